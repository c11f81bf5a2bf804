#!/usr/bin/env bash
# The test command of the README: every test of the workspace. Sets up what it needs
# (the C library for the C API tests is built by cargo as part of the workspace).
# When INTERPLUG_ORACLE_LIB points at the official libextism (scripts/fetch-oracle.sh),
# the differential suite compares against it; otherwise it prints a notice and skips.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --release
cargo test --workspace --release "$@"
