#!/usr/bin/env bash
# The official Extism host SDKs' own test suites, unchanged, on libinterplug in place
# of libextism: Python, PHP, Ruby, C++ and Zig (results: docs/sdk-suites.md).
#
#   scripts/sdk-suites.sh [python|php|ruby|cpp|zig|all]...     (default: all)
#
# The SDK sources are not in this repository and cannot be fetched from the package
# registries: each suite runs when its repository is checked out under $SDK_DIR
# (default /work/sdk) as `python`, `php`, `ruby`, `cpp` or `zig` (or `<name>-sdk`), and
# is reported as absent otherwise. Each checkout is copied to $WORK/<name>/src first:
# nothing is written into it. A test file missing from a checkout (a large blob the
# copy lacks) is taken from the newest commit of its history that has it, and said so.
#
# What each suite needs is set up here: Debian packages (php-cli with FFI, phpunit,
# composer, ruby, ruby-ffi, ruby-minitest, rake, g++, cmake, libjsoncpp-dev,
# libgtest-dev) when missing and running as root, a Python venv with `cffi`,
# `annotated-types` and `extism-sys` (its `ffi.py`; the library under it is swapped
# per run through PYTHONPATH) and `ziglang` 0.14.0 from PyPI. How the library is put
# in place follows each SDK's own lookup: Python loads `extism_sys/libextism_sys.so`,
# PHP only `/usr/local/lib/libextism.so` (bind-mounted in a private mount namespace,
# else copied there and restored), Ruby `libextism.so` from LD_LIBRARY_PATH, C++ and
# Zig link `-lextism` from a staged prefix.
#
# Tests that need the internet (a module or an HTTP call from github.com and
# jsonplaceholder.typicode.com) are skipped, and counted as skipped, when github.com
# does not resolve (NETWORK=auto), or always (NETWORK=0), or never (NETWORK=1).
#
# Environment:
#   SDK_DIR        where the SDK checkouts are (default /work/sdk)
#   PROFILE        cargo profile of libinterplug.so to build and use (default debug)
#   INTERPLUG_LIB  use this libinterplug.so instead of building one
#   ORACLE=1       also run every suite with the official libextism 1.41 first
#                  (scripts/fetch-oracle.sh), to tell the suite's own failures apart
#   NETWORK        auto (default), 0 or 1: see above
#   NO_INSTALL=1   never install packages; a suite whose tools are missing is skipped
#   WORK           scratch folder (default target/sdk-suites)
#
# Prints one result line per suite and library, then "N passed, N failed, N skipped"
# over the libinterplug runs. Exits non-zero when a suite fails on libinterplug (or,
# with ORACLE=1, on libextism).
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SDK_DIR="${SDK_DIR:-/work/sdk}"
WORK="${WORK:-$root/target/sdk-suites}"
profile="${PROFILE:-debug}"
network="${NETWORK:-auto}"
ZIG_VERSION="0.14.0"        # the version the Zig SDK's CI uses (build.zig needs >= 0.14, < 0.15)
EXTISM_SYS_VERSION="1.41.0" # libextism 1.41, the C API interplug implements

suites=("$@")
if [[ ${#suites[@]} -eq 0 || " ${suites[*]} " == *" all "* ]]; then
    suites=(python php ruby cpp zig)
fi
for s in "${suites[@]}"; do
    case "$s" in
        python | php | ruby | cpp | zig) ;;
        *)
            echo "usage: scripts/sdk-suites.sh [python|php|ruby|cpp|zig|all]..." >&2
            exit 2
            ;;
    esac
done

say() { printf '\n== %s\n' "$*"; }
note() { printf 'sdk-suites: %s\n' "$*"; }
mkdir -p "$WORK"

# ---- what the runs share -----------------------------------------------------

# The checkout of SDK $1, or nothing.
sdk_source() {
    local d
    for d in "$SDK_DIR/$1" "$SDK_DIR/$1-sdk"; do
        if [[ -d "$d" ]]; then
            echo "$d"
            return
        fi
    done
}

# Whether the suites may reach the internet.
online() {
    case "$network" in
        1) return 0 ;;
        0) return 1 ;;
        *) getent hosts github.com >/dev/null 2>&1 ;;
    esac
}

# Installs Debian packages $@ when any is missing (root only, once per package).
apt_updated=""
need_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    if [[ -n "${NO_INSTALL:-}" || "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
        note "missing Debian packages: ${missing[*]} (install them, or run as root)"
        return 1
    fi
    if [[ -z "$apt_updated" ]]; then
        apt-get update -qq >/dev/null && apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# A Python venv at $WORK/pyenv with the packages $@ (pip requirement strings).
pyenv() {
    local venv="$WORK/pyenv"
    if [[ ! -x "$venv/bin/python" ]]; then
        "${PYTHON:-python3}" -m venv "$venv" || return 1
    fi
    "$venv/bin/python" -m pip install --disable-pip-version-check --quiet "$@" || return 1
    echo "$venv/bin/python"
}

# Copies checkout $1 to $2 (fresh), restoring test files its clone lacks from history.
copy_source() {
    local from="$1" to="$2" file commit
    rm -rf "$to"
    mkdir -p "$(dirname "$to")"
    cp -r "$from" "$to"
    rm -rf "$to/.git"
    git -C "$from" rev-parse --git-dir >/dev/null 2>&1 || return 0
    while IFS= read -r file; do
        [[ -e "$to/$file" ]] && continue
        for commit in $(git -C "$from" log --format=%H -- "$file"); do
            if git -C "$from" cat-file -e "$commit:$file" 2>/dev/null; then
                git -C "$from" cat-file blob "$commit:$file" >"$to/$file"
                note "$file is missing from the checkout: using its version of commit ${commit:0:10}"
                break
            fi
        done
        [[ -e "$to/$file" ]] || note "$file is missing from the checkout and its history"
    done < <(git -C "$from" ls-tree -r --name-only HEAD)
}

# The libraries to run with: "libextism" (ORACLE=1) and "libinterplug", each staged as
# $WORK/stage-<impl>/{lib/libextism.so,lib/libextism.a,include/extism.h,interplug.h}.
stage() {
    local impl="$1" so="$2" a="$3" dir="$WORK/stage-$1"
    rm -rf "$dir"
    mkdir -p "$dir/lib" "$dir/include"
    cp "$so" "$dir/lib/libextism.so"
    if [[ -n "$a" && -f "$a" ]]; then
        cp "$a" "$dir/lib/libextism.a"
    fi
    # The header interplug ships; the official one declares the same API.
    cp "$root/include/extism.h" "$root/include/interplug.h" "$dir/include/"
    # What the library says it is, so a run on the wrong library shows.
    python3 -c "import ctypes, sys; l = ctypes.CDLL(sys.argv[1]); \
l.extism_version.restype = ctypes.c_char_p; print(l.extism_version().decode())" \
        "$dir/lib/libextism.so" >"$dir/version" 2>/dev/null || echo "?" >"$dir/version"
}

# The suites whose sources are here; the others are reported and left out.
present=()
for suite in "${suites[@]}"; do
    if [[ -n "$(sdk_source "$suite")" ]]; then
        present+=("$suite")
    else
        say "$suite SDK suite"
        note "$suite: the SDK sources are absent (looked for $SDK_DIR/$suite and $SDK_DIR/$suite-sdk): not run."
        note "$suite: check out github.com/extism/$suite-sdk there (or set SDK_DIR) to run it."
    fi
done
if [[ ${#present[@]} -eq 0 ]]; then
    note "no SDK sources under $SDK_DIR: nothing to run"
    exit 0
fi

impls=()
if [[ -n "${ORACLE:-}" && "${ORACLE}" != 0 ]]; then
    oracle="$(bash "$root/scripts/fetch-oracle.sh" | tail -n1)" || oracle=""
    if [[ ! -f "$oracle" ]]; then
        echo "sdk-suites: ORACLE=1 but the official library could not be fetched" >&2
        exit 1
    fi
    stage libextism "$oracle" ""
    impls+=(libextism)
fi
if [[ -z "${INTERPLUG_LIB:-}" ]]; then
    if [[ "$profile" == debug ]]; then
        cargo build -p interplug-capi --manifest-path "$root/Cargo.toml" >&2 || exit 1
    else
        cargo build -p interplug-capi --profile "$profile" --manifest-path "$root/Cargo.toml" >&2 || exit 1
    fi
    INTERPLUG_LIB="$root/target/$profile/libinterplug.so"
fi
if [[ ! -f "$INTERPLUG_LIB" ]]; then
    echo "sdk-suites: $INTERPLUG_LIB not found" >&2
    exit 1
fi
stage libinterplug "$INTERPLUG_LIB" "$(dirname "$INTERPLUG_LIB")/libinterplug.a"
impls+=(libinterplug)

# Results: "suite impl passed failed skipped" lines.
results="$WORK/results.txt"
: >"$results"
status=0
record() { # suite impl passed failed skipped [note]
    echo "$1 $2 $3 $4 $5" >>"$results"
    note "$1 on $2 ($(cat "$WORK/stage-$2/version")): $3 passed, $4 failed, $5 skipped${6:+ ($6)}"
    if [[ "$4" != 0 ]]; then status=1; fi
}
# The first number before word $2 in file $1 (0 when absent).
count() { grep -oE "[0-9]+ $2" "$1" | tail -n1 | grep -oE '^[0-9]+' || echo 0; }

# ---- Python: `python -m unittest discover` and `python example.py` (its justfile) ----
run_python() {
    local src="$1" dir="$WORK/python" py impl out pkg passed failed skipped ex
    py="$(pyenv cffi annotated-types "extism-sys==$EXTISM_SYS_VERSION")" || {
        note "python: cannot set up the venv"
        return 1
    }
    copy_source "$src" "$dir/src"
    local sys_dir
    sys_dir="$("$py" -c 'import os, importlib.util as u; print(os.path.dirname(u.find_spec("extism_sys").origin))')"
    for impl in "${impls[@]}"; do
        say "Python SDK suite on $impl"
        # An `extism_sys` package whose library is the one under test, ahead of the
        # installed one on the path.
        pkg="$dir/path-$impl/extism_sys"
        rm -rf "$dir/path-$impl"
        mkdir -p "$pkg"
        cp "$sys_dir/__init__.py" "$sys_dir/ffi.py" "$pkg/"
        ln -s "$WORK/stage-$impl/lib/libextism.so" "$pkg/libextism_sys.so"
        out="$dir/unittest-$impl.log"
        (cd "$dir/src" && PYTHONPATH="$dir/path-$impl" "$py" -m unittest discover -v) >"$out" 2>&1
        tail -n 25 "$out"
        passed=$(grep -cE '\.\.\. ok$' "$out")
        failed=$(grep -cE '\.\.\. (FAIL|ERROR)$' "$out")
        skipped=$(grep -cE '\.\.\. skipped' "$out")
        if ! grep -qE '^Ran [0-9]+ test' "$out"; then failed=$((failed + 1)); fi
        # The justfile's second step: the example must run.
        if (cd "$dir/src" && PYTHONPATH="$dir/path-$impl" "$py" example.py) >"$dir/example-$impl.log" 2>&1; then
            ex="example.py ok"
            passed=$((passed + 1))
        else
            ex="example.py FAILED"
            failed=$((failed + 1))
            tail -n 20 "$dir/example-$impl.log"
        fi
        record python "$impl" "$passed" "$failed" "$skipped" "unittest and $ex"
    done
}

# ---- PHP: `phpunit ./tests` (its Makefile) with composer's autoloader ----------------
run_php() {
    local src="$1" dir="$WORK/php" impl out filter=() skipped_tests=0 passed failed skipped
    need_packages php-cli phpunit composer || return 1
    if ! php -r 'exit(extension_loaded("ffi") ? 0 : 1);'; then
        note "php: the FFI extension is not loaded"
        return 1
    fi
    copy_source "$src" "$dir/src"
    # The autoloader phpunit.xml.dist bootstraps; the dev tools composer would fetch
    # are Debian's phpunit here.
    (cd "$dir/src" && COMPOSER_ALLOW_SUPERUSER=1 composer dump-autoload --no-interaction --quiet) || return 1
    if ! online; then
        filter=(--filter '/^(?!.*(testCanLoadPluginFromUrl|testCanMakeHttpCallsWhenAllowed)).*$/')
        skipped_tests=2
    fi
    for impl in "${impls[@]}"; do
        say "PHP SDK suite on $impl"
        out="$dir/phpunit-$impl.log"
        # The SDK only looks in /usr/local/lib and /usr/lib: the staged library is
        # bind-mounted over /usr/local/lib for this run only.
        mkdir -p "$dir/usr-local-lib-$impl"
        cp -f "$WORK/stage-$impl/lib/libextism.so" "$dir/usr-local-lib-$impl/libextism.so"
        if unshare -m true 2>/dev/null; then
            (cd "$dir/src" && unshare -m sh -c 'mount --bind "$0" /usr/local/lib && exec phpunit "$@"' \
                "$dir/usr-local-lib-$impl" "${filter[@]}" ./tests) >"$out" 2>&1
        else
            local target=/usr/local/lib/libextism.so backup=""
            [[ -e "$target" ]] && backup="$dir/libextism.so.saved" && cp -f "$target" "$backup"
            cp -f "$dir/usr-local-lib-$impl/libextism.so" "$target"
            (cd "$dir/src" && phpunit "${filter[@]}" ./tests) >"$out" 2>&1
            if [[ -n "$backup" ]]; then mv -f "$backup" "$target"; else rm -f "$target"; fi
        fi
        tail -n 40 "$out"
        if grep -qE '^OK \(' "$out"; then
            passed=$(grep -oE '^OK \([0-9]+ test' "$out" | grep -oE '[0-9]+')
            failed=0
            skipped=0
        else
            local total errors failures
            total=$(grep -oE '^Tests: [0-9]+' "$out" | grep -oE '[0-9]+' || echo 0)
            errors=$(grep -oE 'Errors: [0-9]+' "$out" | grep -oE '[0-9]+' || echo 0)
            failures=$(grep -oE 'Failures: [0-9]+' "$out" | grep -oE '[0-9]+' || echo 0)
            skipped=$(grep -oE 'Skipped: [0-9]+' "$out" | grep -oE '[0-9]+' || echo 0)
            failed=$((errors + failures))
            passed=$((total - failed - skipped))
            if [[ "$total" == 0 ]]; then failed=1; fi
        fi
        record php "$impl" "$passed" "$failed" "$((skipped + skipped_tests))" \
            "$([[ $skipped_tests != 0 ]] && echo "no network: the URL and HTTP tests skipped")"
    done
}

# ---- Ruby: `rake test` (its Makefile, without bundler) --------------------------------
run_ruby() {
    local src="$1" dir="$WORK/ruby" impl out
    need_packages ruby ruby-ffi ruby-minitest rake || return 1
    copy_source "$src" "$dir/src"
    for impl in "${impls[@]}"; do
        say "Ruby SDK suite on $impl"
        out="$dir/rake-$impl.log"
        (cd "$dir/src" && LD_LIBRARY_PATH="$WORK/stage-$impl/lib" rake test) >"$out" 2>&1
        tail -n 30 "$out"
        if grep -qE '[0-9]+ runs, ' "$out"; then
            local runs failures errors skips
            runs=$(count "$out" runs)
            failures=$(count "$out" failures)
            errors=$(count "$out" errors)
            skips=$(count "$out" skips)
            record ruby "$impl" "$((runs - failures - errors - skips))" "$((failures + errors))" "$skips"
        else
            record ruby "$impl" 0 1 0 "rake test did not run"
        fi
    done
}

# ---- C++: cmake, the gtest binary and the example (its CI) ----------------------------
run_cpp() {
    local src="$1" dir="$WORK/cpp" impl out build filter=() skipped_tests=0
    need_packages g++ cmake make pkg-config libjsoncpp-dev libgtest-dev || return 1
    copy_source "$src" "$dir/src"
    if ! online; then
        filter=(--gtest_filter=-Plugin.ManifestWasmUrl)
        skipped_tests=1
    fi
    for impl in "${impls[@]}"; do
        say "C++ SDK suite on $impl"
        local s="$WORK/stage-$impl" static="$WORK/stage-$impl/lib/libextism.a"
        # Its Findextism.cmake wants a static library too; only example-static links it,
        # which is not built here (the official wheel has none).
        [[ -f "$static" ]] || static="$s/lib/libextism.so"
        build="$dir/src/build-$impl"
        out="$dir/build-$impl.log"
        if ! cmake -S "$dir/src" -B "$build" -DCMAKE_BUILD_TYPE=Debug \
            -Dextism_INCLUDE_DIR="$s/include" -Dextism_LIBRARY="$s/lib/libextism.so" \
            -Dextism_STATIC_LIBRARY="$static" >"$out" 2>&1 ||
            ! make -C "$build" -j2 extism-test example >>"$out" 2>&1; then
            tail -n 30 "$out"
            record cpp "$impl" 0 1 0 "the build failed"
            continue
        fi
        out="$dir/gtest-$impl.log"
        # From the build folder, as `make test` runs it: the tests read ../wasm.
        (cd "$build" && LD_LIBRARY_PATH="$s/lib" ./extism-test "${filter[@]}") >"$out" 2>&1
        grep -E '^\[ +(OK|FAILED|PASSED|SKIPPED) +\]|Failure|Actual' "$out" | tail -n 30
        local passed failed skipped
        passed=$(grep -oE '^\[  PASSED  \] [0-9]+' "$out" | grep -oE '[0-9]+$' || echo 0)
        failed=$(grep -oE '^\[  FAILED  \] [0-9]+ test' "$out" | grep -oE '[0-9]+' || echo 0)
        skipped=$(grep -oE '^\[  SKIPPED \] [0-9]+' "$out" | grep -oE '[0-9]+$' || echo 0)
        if ! grep -q '^\[==========\] .* ran' "$out"; then failed=$((failed + 1)); fi
        local ex
        if (cd "$build" && LD_LIBRARY_PATH="$s/lib" ./example ../wasm/code-functions.wasm) >"$dir/example-$impl.log" 2>&1; then
            ex="example ok"
            passed=$((passed + 1))
        else
            ex="example FAILED"
            failed=$((failed + 1))
            tail -n 20 "$dir/example-$impl.log"
        fi
        record cpp "$impl" "$passed" "$failed" "$((skipped + skipped_tests))" \
            "gtest and $ex$([[ $skipped_tests != 0 ]] && echo "; no network: ManifestWasmUrl skipped")"
    done
}

# ---- Zig: `zig build test` (its CI) ----------------------------------------------------
run_zig() {
    local src="$1" dir="$WORK/zig" impl out py
    py="$(pyenv "ziglang==$ZIG_VERSION")" || {
        note "zig: cannot install ziglang $ZIG_VERSION from PyPI"
        return 1
    }
    copy_source "$src" "$dir/src"
    export ZIG_GLOBAL_CACHE_DIR="$dir/global-cache"
    for impl in "${impls[@]}"; do
        say "Zig SDK suite on $impl"
        out="$dir/build-$impl.log"
        # A fresh local cache: the test binary is relinked and its run not skipped.
        rm -rf "$dir/src/.zig-cache" "$dir/src/zig-cache"
        (cd "$dir/src" && LD_LIBRARY_PATH="$WORK/stage-$impl/lib" "$py" -m ziglang build test \
            --search-prefix "$WORK/stage-$impl" --summary all) >"$out" 2>&1
        grep -vE '^(Hello from Zig!|User data: |input: |Host context=)' "$out" | tail -n 25
        local line passed failed skipped
        line="$(grep -E 'run Library Tests [0-9]+ (passed|failed)|run Library Tests .*[0-9]+/[0-9]+ passed' "$out" | tail -n1)"
        # "3 passed", or "2/3 passed, 1 failed".
        passed=$(grep -oE '([0-9]+/)?[0-9]+ passed' <<<"$line" | head -n1 | sed -E 's#/.*##; s# passed##')
        [[ -z "$passed" ]] && passed=0
        failed=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+' || echo 0)
        skipped=$(grep -oE '[0-9]+ skipped' <<<"$line" | grep -oE '[0-9]+' || echo 0)
        if ! grep -q 'Build Summary: .*succeeded' "$out" && [[ "$failed" == 0 ]]; then failed=1; fi
        record zig "$impl" "$passed" "$failed" "$skipped"
    done
}

# ---- run -----------------------------------------------------------------------------
for suite in "${present[@]}"; do
    if ! "run_$suite" "$(sdk_source "$suite")"; then
        note "$suite: could not be set up (see above)"
        status=1
    fi
done

say "summary"
if [[ -s "$results" ]]; then
    column -t "$results" 2>/dev/null | sed 's/^/  /' || sed 's/^/  /' "$results"
    awk '$2 == "libinterplug" { p += $3; f += $4; s += $5 }
         END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$results"
else
    note "no suite ran"
fi
exit "$status"
