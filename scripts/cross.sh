#!/usr/bin/env bash
# The platform table of docs/platforms.md, built and run.
#
#   scripts/cross.sh --list        the targets of the table, one per line
#   scripts/cross.sh TARGET...     install what TARGET needs, build what the table
#                                  promises for it and run what this machine can run
#   scripts/cross.sh all           every target of the list, in order
#
# Installs with `rustup target add` and Debian packages (`apt-get`, run as root on a
# Debian 12 machine like CI's). Exits non-zero on the first failure. Prints the time
# each target took, and the sizes the table in docs/platforms.md reports.
#
# Environment: CROSS_PROFILE (dev or release, default dev) for the Linux and wasm
# targets; the firmware is always built with its release profile.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

TARGETS=(
  i686-unknown-linux-gnu
  aarch64-unknown-linux-gnu
  armv7-unknown-linux-gnueabihf
  wasm32-wasip1
  aarch64-apple-ios
  aarch64-linux-android
  thumbv7em-none-eabihf
  riscv32imac-unknown-none-elf
)

profile=${CROSS_PROFILE:-dev}
case "$profile" in
  dev) profile_dir=debug ;;
  release) profile_dir=release ;;
  *) echo "CROSS_PROFILE must be dev or release, not '$profile'" >&2; exit 2 ;;
esac
tools="$root/target/cross-tools"
# In CI, no debug info in dev builds: the cross builds then take a fraction of the disk
# and link faster.
if [ "${CI:-}" = true ]; then
  export CARGO_PROFILE_DEV_DEBUG="${CARGO_PROFILE_DEV_DEBUG:-0}"
fi
work="$root/target/cross-work"

say() { printf '\n--> %s\n' "$*"; }
die() { printf 'cross.sh: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------
# Installing
# ---------------------------------------------------------------------------

apt_updated=0
# Installs the Debian packages that are missing; refuses to remove any package.
need_apt() {
  local missing=()
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing Debian packages ${missing[*]} and no apt-get: install them by hand"
  if [ "$apt_updated" = 0 ]; then
    apt-get update -qq
    apt_updated=1
  fi
  if DEBIAN_FRONTEND=noninteractive apt-get install -s --no-install-recommends "${missing[@]}" | grep -q '^Remv'; then
    die "installing ${missing[*]} would remove other packages: install them by hand"
  fi
  say "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

need_rust_target() {
  rustup target list --installed | grep -qx "$1" || rustup target add "$1"
}

# qemu-system-arm for the firmware. Debian's package can clash with a newer qemu-utils
# already on the machine (it would remove it): then its binary is unpacked into
# target/cross-tools/ and only its libraries are installed.
need_qemu_system_arm() {
  if command -v qemu-system-arm >/dev/null; then
    qemu=qemu-system-arm
    return 0
  fi
  qemu="$tools/qemu/usr/bin/qemu-system-arm"
  [ -x "$qemu" ] && return 0
  if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -s --no-install-recommends qemu-system-arm | grep -q '^Remv'; then
    need_apt qemu-system-arm
    qemu=qemu-system-arm
    return 0
  fi
  say "qemu-system-arm would replace installed packages: unpacking it into $tools/qemu"
  mkdir -p "$tools/deb"
  (cd "$tools/deb" && rm -f qemu-system-arm_*.deb && apt-get download qemu-system-arm 2>/dev/null)
  dpkg-deb -x "$tools"/deb/qemu-system-arm_*.deb "$tools/qemu"
  local libs
  libs=$(apt-cache depends qemu-system-arm | awk '/^ *Depends: lib/ {print $2}' | sort -u)
  # shellcheck disable=SC2086
  need_apt $libs
  "$qemu" --version | head -n 1
}

# ---------------------------------------------------------------------------
# The CLI smoke test: the same calls through the x86_64 build and a target build
# must give the same stdout bytes and exit status.
# ---------------------------------------------------------------------------

host_cli=""
build_host_cli() {
  [ -n "$host_cli" ] && return 0
  # The release build: CI has it already (scripts/test.sh builds the workspace so).
  say "interplug command for this machine, release (the reference)"
  cargo build -q --release -p interplug-cli
  host_cli="$root/target/release/interplug"
}

make_inputs() {
  mkdir -p "$work"
  [ -f "$work/1mib.bin" ] || head -c 1048576 /dev/urandom >"$work/1mib.bin"
  if [ ! -f "$work/10k.txt" ]; then
    # No pipe into `head`: with pipefail the writer's SIGPIPE would fail the script.
    for _ in $(seq 1 230); do printf 'The quick brown fox jumps over the lazy dog. '; done >"$work/10k.txt"
    truncate -s 10000 "$work/10k.txt"
  fi
  [ -f "$work/hello.txt" ] || printf 'hello world' >"$work/hello.txt"
}

# smoke_cli NAME COMMAND...: runs the smoke calls with COMMAND as the interplug
# command (a native binary, or a runner followed by a binary), compares with the host
# build. Paths are given relative to the repository root (the WASI runner maps it).
smoke_cli() {
  local name=$1
  shift
  build_host_cli
  make_inputs
  local fx=spec-tests/fixtures
  local as=examples/firmware/plugin/count_vowels.wasm
  local w=target/cross-work
  local calls=(
    "call $fx/count_vowels.wasm count_vowels --input-file $w/hello.txt"
    "call $fx/count_vowels.wasm count_vowels --input-file $w/10k.txt"
    "call $fx/count_vowels.wasm count_vowels --input-file $w/hello.txt --config vowels=lo --loop 3"
    "call $fx/echo.wasm echo --input-file $w/1mib.bin"
    "call $fx/echo.wasm length --input-file $w/1mib.bin"
    "call $fx/limits.wasm compute --input 1000000 --stub-host-functions"
    "call $fx/limits.wasm recurse --input 500 --stub-host-functions"
    "call $fx/limits.wasm infinite_loop --stub-host-functions --fuel 5000000"
    "call $fx/limits.wasm oob --stub-host-functions"
    "call $fx/fail.wasm fail --input oops"
    "call $as count_vowels --input-file $w/10k.txt"
    "call $as echo --input-file $w/1mib.bin"
  )
  if [ -n "${SMOKE_TIMEOUT_CALL:-}" ]; then
    calls+=("call $fx/limits.wasm infinite_loop --stub-host-functions --timeout 300")
  fi
  if [ -n "${SMOKE_WASI:-}" ]; then
    # WASI plug-ins: clocks and random numbers, a write, a sleep (poll_oneoff).
    calls+=(
      "call $fx/wasi_fs.wasm clock_random --wasi"
      "call $fx/wasi_fs.wasm print --wasi --input hello"
      "call $fx/wasi_hostile.wasm sleep_ms --wasi --input 5"
    )
  fi
  if [ -n "${SMOKE_BULK:-}" ]; then
    # A 1 MiB echo within 400 000 units of fuel: only the bulk-I/O pass's copies fit
    # (the PDK's copy loops need several million), so it fails where the pass is off.
    calls+=("call $fx/echo.wasm echo --input-file $w/1mib.bin --fuel 400000")
  fi
  local i=0 failed=0
  for c in "${calls[@]}"; do
    i=$((i + 1))
    local want="$work/$name.$i.want" got="$work/$name.$i.got"
    local want_rc=0 got_rc=0
    # shellcheck disable=SC2086
    "$host_cli" $c >"$want" 2>/dev/null || want_rc=$?
    # shellcheck disable=SC2086
    "$@" $c >"$got" 2>"$work/$name.$i.err" || got_rc=$?
    if [ "$want_rc" != "$got_rc" ] || ! cmp -s "$want" "$got"; then
      echo "MISMATCH $name: interplug $c"
      echo "  x86_64: exit $want_rc, $(wc -c <"$want") bytes; $name: exit $got_rc, $(wc -c <"$got") bytes"
      sed 's/^/  stderr: /' "$work/$name.$i.err" | head -n 5
      failed=1
    else
      printf '  same  exit %s %8s bytes  interplug %s\n' "$got_rc" "$(wc -c <"$got")" "$c"
    fi
  done
  [ "$failed" = 0 ] || die "$name: the interplug command differs from the x86_64 build"
}

# ---------------------------------------------------------------------------
# The targets
# ---------------------------------------------------------------------------

linux_gnu_env() {
  # linux_gnu_env TARGET GCC-PREFIX
  local t=$1 gcc=$2 up
  up=$(echo "$t" | tr 'a-z-' 'A-Z_')
  export "CARGO_TARGET_${up}_LINKER=${gcc}-gcc"
  export "CC_${t//-/_}=${gcc}-gcc"
  export "AR_${t//-/_}=${gcc}-ar"
}

target_i686() {
  local t=i686-unknown-linux-gnu
  need_rust_target $t
  # The cross gcc links; libc6-i386 and lib32gcc-s1 let the binaries run natively.
  need_apt gcc-i686-linux-gnu libc6-dev-i386-cross libc6-i386 lib32gcc-s1
  linux_gnu_env $t i686-linux-gnu
  # The official runtime (oracle) is a 64-bit library: not loadable here.
  unset INTERPLUG_ORACLE_LIB
  say "$t: test suite of interplug, interplug-spec-tests, interplug-cli (native 32-bit)"
  cargo test --no-fail-fast --profile "$profile" --target $t -p interplug -p interplug-spec-tests -p interplug-cli
  say "$t: interplug command, same bytes as the x86_64 build (WASI plug-ins, a bulk echo)"
  cargo build -q --profile "$profile" --target $t -p interplug-cli
  SMOKE_TIMEOUT_CALL=1 SMOKE_WASI=1 SMOKE_BULK=1 smoke_cli $t "$root/target/$t/$profile_dir/interplug"
}

target_qemu_user() {
  # target_qemu_user TARGET GCC-PREFIX DEBIAN-ARCH QEMU
  local t=$1 gcc=$2 arch=$3 qemu_bin=$4 up
  need_rust_target "$t"
  need_apt "gcc-$gcc" "libc6-dev-$arch-cross" qemu-user
  linux_gnu_env "$t" "$gcc"
  up=$(echo "$t" | tr 'a-z-' 'A-Z_')
  export "CARGO_TARGET_${up}_RUNNER=$qemu_bin -L /usr/$gcc"
  unset INTERPLUG_ORACLE_LIB
  say "$t: the conformance cases under $qemu_bin"
  cargo test --profile "$profile" --target "$t" -p interplug-spec-tests --test conformance
  say "$t: interplug command under $qemu_bin, same bytes as the x86_64 build"
  cargo build -q --profile "$profile" --target "$t" -p interplug-cli
  smoke_cli "$t" "$qemu_bin" -L "/usr/$gcc" "$root/target/$t/$profile_dir/interplug"
}

target_wasi() {
  local t=wasm32-wasip1
  need_rust_target $t
  command -v node >/dev/null || die "node is needed to run the wasm32-wasip1 build"
  say "$t: interplug command without WASI-for-plug-ins and HTTP (see docs/platforms.md)"
  cargo build -q --profile "$profile" --target $t -p interplug-cli --no-default-features
  local wasm="$root/target/$t/$profile_dir/interplug.wasm"
  ls -l "$wasm"
  say "$t: interplug.wasm under Node's WASI, same bytes as the x86_64 build"
  smoke_cli $t node --no-warnings "$root/scripts/wasi-run.mjs" "$wasm"
}

target_capi_static() {
  # target_capi_static TARGET FEATURES...: the C library's features for that row.
  local t=$1
  shift
  local features
  features=$(IFS=,; echo "$*")
  need_rust_target "$t"
  say "$t: the C library as a static library, features [${features}] (see docs/platforms.md)"
  cargo rustc -q --profile "$profile" --target "$t" -p interplug-capi --lib \
    --no-default-features ${features:+--features "$features"} --crate-type staticlib
  local lib="$root/target/$t/$profile_dir/libinterplug.a"
  [ -f "$lib" ] || die "$t: $lib was not built"
  ls -l "$lib" "$root"/include/*.h
}

target_no_std() {
  local t=$1
  need_rust_target "$t"
  say "$t: the no_std core"
  cargo build -q --profile "$profile" --target "$t" -p interplug --no-default-features
}

target_thumbv7em() {
  target_no_std thumbv7em-none-eabihf
  need_qemu_system_arm
  need_apt binutils-arm-none-eabi
  say "thumbv7em-none-eabihf: example firmware on QEMU mps2-an386 (Cortex-M4)"
  (cd examples/firmware && cargo build -q --release)
  local elf="$root/examples/firmware/target/thumbv7em-none-eabihf/release/interplug-firmware"
  arm-none-eabi-size "$elf"
  timeout 300 "$qemu" -machine mps2-an386 -cpu cortex-m4 -nographic \
    -semihosting-config enable=on,target=native -kernel "$elf" \
    || die "the firmware failed (exit $?)"
}

run_target() {
  local t=$1 started=$SECONDS
  say "=== $t"
  case "$t" in
    i686-unknown-linux-gnu) target_i686 ;;
    aarch64-unknown-linux-gnu) target_qemu_user "$t" aarch64-linux-gnu arm64 qemu-aarch64 ;;
    armv7-unknown-linux-gnueabihf) target_qemu_user "$t" arm-linux-gnueabihf armhf qemu-arm ;;
    wasm32-wasip1) target_wasi ;;
    # No HTTP on either (its TLS compiles C: Xcode / the NDK). No WASI on iOS: the
    # rustix 0.38 under wasmi_wasi does not build for iOS with the locked libc.
    aarch64-apple-ios) target_capi_static "$t" ;;
    aarch64-linux-android) target_capi_static "$t" wasi ;;
    thumbv7em-none-eabihf) target_thumbv7em ;;
    riscv32imac-unknown-none-elf) target_no_std "$t" ;;
    *) die "unknown target '$t': see scripts/cross.sh --list" ;;
  esac
  say "=== $t passed in $((SECONDS - started))s"
}

if [ $# -eq 0 ]; then
  sed -n '2,14s/^# \{0,1\}//p' "$0"
  exit 2
fi
if [ "$1" = --list ]; then
  printf '%s\n' "${TARGETS[@]}"
  exit 0
fi
if [ "$1" = all ]; then
  set -- "${TARGETS[@]}"
fi
for t in "$@"; do
  run_target "$t"
done
