#!/usr/bin/env bash
# Drop-in proof with the official Extism Python host SDK.
#
# Creates a virtual environment in target/pyenv, installs the SDK from PyPI
# (`extism`, and `extism-sys`, the wheel that ships libextism as
# extism_sys/libextism_sys.so), then runs capi/tests/python/test_sdk.py twice:
#   1. with the original libextism_sys.so (the test itself is right),
#   2. with that file replaced by libinterplug.so (interplug is a drop-in).
# The original file is always put back, also when a run fails or is interrupted.
#
# Environment:
#   PROFILE           cargo profile of libinterplug.so to use (default: debug)
#   INTERPLUG_LIB     use this libinterplug.so instead of building one
#   PYTHON            python to create the venv with (default: python3)
#
# Exits non-zero when either run fails.
set -euo pipefail

EXTISM_VERSION="1.1.1"      # the newest SDK; needs extism-sys >= 1.9.1
EXTISM_SYS_VERSION="1.41.0" # libextism 1.41, the C API interplug implements

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/target/pyenv"
python="${PYTHON:-python3}"
profile="${PROFILE:-debug}"

if [[ -z "${INTERPLUG_LIB:-}" ]]; then
    if [[ "$profile" == "debug" ]]; then
        cargo build -p interplug-capi --manifest-path "$root/Cargo.toml" >&2
    else
        cargo build -p interplug-capi --profile "$profile" --manifest-path "$root/Cargo.toml" >&2
    fi
    INTERPLUG_LIB="$root/target/$profile/libinterplug.so"
fi
if [[ ! -f "$INTERPLUG_LIB" ]]; then
    echo "python-sdk-test: $INTERPLUG_LIB not found" >&2
    exit 1
fi

if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -m venv "$venv"
fi
py="$venv/bin/python"
if ! "$py" -c "import importlib.metadata as m, sys; \
sys.exit(not (m.version('extism') == '$EXTISM_VERSION' and m.version('extism-sys') == '$EXTISM_SYS_VERSION'))" \
    2>/dev/null; then
    "$py" -m pip install --disable-pip-version-check --quiet \
        "extism==$EXTISM_VERSION" "extism-sys==$EXTISM_SYS_VERSION"
fi

sys_dir="$("$py" -c 'import os, importlib.util as u; print(os.path.dirname(u.find_spec("extism_sys").origin))')"
shipped="$sys_dir/libextism_sys.so"
backup="$sys_dir/libextism_sys.so.official"
# A previous interrupted run may have left our library in place: the backup is
# then the original.
if [[ -f "$backup" ]]; then
    mv -f "$backup" "$shipped"
fi

test_py="$root/capi/tests/python/test_sdk.py"
export FIXTURES="$root/spec-tests/fixtures"
status=0

echo "== Python SDK $EXTISM_VERSION with the official libextism $EXTISM_SYS_VERSION"
EXPECT_IMPL=libextism "$py" "$test_py" || status=1

echo "== Python SDK $EXTISM_VERSION with libinterplug ($INTERPLUG_LIB)"
cp -f "$shipped" "$backup"
trap 'mv -f "$backup" "$shipped"' EXIT
cp -f "$INTERPLUG_LIB" "$shipped"
EXPECT_IMPL=interplug "$py" "$test_py" || status=1

exit "$status"
