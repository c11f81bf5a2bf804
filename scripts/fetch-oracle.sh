#!/usr/bin/env bash
# Fetch the official Extism runtime (libextism 1.41, shipped in the PyPI wheel
# `extism-sys`) to use as a behavioural oracle for interplug.
#
# The wheel is downloaded into <repo>/.oracle/ (gitignored) and extracted there.
# The last line printed on stdout is the absolute path of libextism_sys.so, so
# callers can do:
#
#   export INTERPLUG_ORACLE_LIB="$(scripts/fetch-oracle.sh | tail -n1)"
#
# Idempotent: when the library is already present nothing is downloaded.
set -euo pipefail

VERSION="1.41.0"
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/.." && pwd)"
oracle_dir="$repo_root/.oracle"
extract_dir="$oracle_dir/extism-sys-$VERSION"
lib="$extract_dir/extism_sys/libextism_sys.so"

if [[ -f "$lib" ]]; then
    echo "$lib"
    exit 0
fi

mkdir -p "$oracle_dir"

# Pick a Python that has pip.
py=""
for cand in python3 python; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -m pip --version >/dev/null 2>&1; then
        py="$cand"
        break
    fi
done
if [[ -z "$py" ]]; then
    echo "fetch-oracle: need python3 with pip" >&2
    exit 1
fi

wheel_glob="$oracle_dir/extism_sys-$VERSION-*.whl"
# shellcheck disable=SC2086
if ! ls $wheel_glob >/dev/null 2>&1; then
    echo "fetch-oracle: downloading extism-sys==$VERSION into $oracle_dir" >&2
    # Explicit platform so the result does not depend on the local pip's tags;
    # the wheel is a manylinux x86_64 build. Output goes to stderr so that the
    # last stdout line stays the library path.
    "$py" -m pip download --no-deps --only-binary=:all: \
        --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_34_x86_64 \
        --disable-pip-version-check --no-cache-dir \
        -d "$oracle_dir" "extism-sys==$VERSION" >&2
fi

# shellcheck disable=SC2086
wheel="$(ls $wheel_glob | head -n1)"
if [[ -z "$wheel" ]]; then
    echo "fetch-oracle: no wheel found after download" >&2
    exit 1
fi

# Extract into a temporary directory first so an interrupted run never leaves
# a half-extracted tree that looks complete.
tmp_dir="$(mktemp -d "$oracle_dir/.extract.XXXXXX")"
trap 'rm -rf "$tmp_dir"' EXIT
"$py" -m zipfile -e "$wheel" "$tmp_dir" >&2
if [[ ! -f "$tmp_dir/extism_sys/libextism_sys.so" ]]; then
    echo "fetch-oracle: wheel $wheel has no extism_sys/libextism_sys.so" >&2
    exit 1
fi
chmod 755 "$tmp_dir"
rm -rf "$extract_dir"
mv "$tmp_dir" "$extract_dir"
trap - EXIT

echo "$lib"
