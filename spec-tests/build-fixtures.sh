#!/usr/bin/env bash
# Builds the test plug-ins in spec-tests/plugins into spec-tests/fixtures/*.wasm.
# Re-runnable; the .wasm files are committed so tests do not need a wasm toolchain.
# Usage: spec-tests/build-fixtures.sh   (from anywhere)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
plugins="$here/plugins"
fixtures="$here/fixtures"
target_dir="$plugins/target"

# Fixture name -> cargo package, for each target. wasm32-wasip1 ones need WASI.
unknown_fixtures=(
    count_vowels echo host_fns fail logging config vars link_math link_main
    limits http fuzzme planted xtp_pass xtp_fail
)
wasi_lib_fixtures=(reactor wasi_fs)
wasi_bin_fixtures=(wasi_command wasi_exit_code) # both binaries of package fx-wasi-command

rustup target add wasm32-unknown-unknown wasm32-wasip1

pkg_args() {
    local n
    for n in "$@"; do printf -- '-p\nfx-%s\n' "${n//_/-}"; done
}

cd "$plugins"

# Panic-location strings embed source paths; remap them so the bytes do not depend on
# where the repository or the cargo home are. (Replaces any RUSTFLAGS from the caller.)
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
export RUSTFLAGS="--remap-path-prefix=$cargo_home=/cargo --remap-path-prefix=$plugins=/plugins"
unset CARGO_ENCODED_RUSTFLAGS
mapfile -t unknown_pkgs < <(pkg_args "${unknown_fixtures[@]}")
mapfile -t wasi_pkgs < <(pkg_args "${wasi_lib_fixtures[@]}" wasi_command)

# --locked: the committed Cargo.lock is the source of truth.
cargo build --locked --release --target wasm32-unknown-unknown --target-dir "$target_dir" \
    "${unknown_pkgs[@]}"
cargo build --locked --release --target wasm32-wasip1 --target-dir "$target_dir" \
    "${wasi_pkgs[@]}"

mkdir -p "$fixtures"
copy() { # src name
    cp "$1" "$fixtures/$2.wasm.tmp"
    mv "$fixtures/$2.wasm.tmp" "$fixtures/$2.wasm"
}
for n in "${unknown_fixtures[@]}"; do
    copy "$target_dir/wasm32-unknown-unknown/release/fx_$n.wasm" "$n"
done
for n in "${wasi_lib_fixtures[@]}"; do
    copy "$target_dir/wasm32-wasip1/release/fx_$n.wasm" "$n"
done
for n in "${wasi_bin_fixtures[@]}"; do
    copy "$target_dir/wasm32-wasip1/release/$n.wasm" "$n"
done

echo
echo "fixtures in $fixtures:"
total=0
for n in "${unknown_fixtures[@]}" "${wasi_lib_fixtures[@]}" "${wasi_bin_fixtures[@]}"; do
    size=$(stat -c %s "$fixtures/$n.wasm")
    total=$((total + size))
    printf '  %-20s %8d bytes\n' "$n.wasm" "$size"
done
printf '  %-20s %8d bytes\n' "total" "$total"
