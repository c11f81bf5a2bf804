#!/usr/bin/env bash
# Runs the Extism memory and manifest tests under Miri (undefined-behaviour checker).
# Proptest case counts are lowered: Miri interprets every instruction.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup +nightly component add miri rust-src >/dev/null
export PROPTEST_CASES="${PROPTEST_CASES:-16}"
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation}"
cargo +nightly miri test -p interplug --lib -- memory:: manifest:: convert::
