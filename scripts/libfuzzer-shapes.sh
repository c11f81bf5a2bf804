#!/usr/bin/env bash
# Benchmark (not a test, not in CI): runs libFuzzer needs to find each planted bug
# shape of the `planted` plug-in when its Rust source is compiled natively
# (bench-native-fuzz/: build.rs takes the function bodies from
# spec-tests/plugins/planted/src/lib.rs), from the one-input corpus "hello world",
# seeds 1-3, with libFuzzer's default settings (comparison tracing on,
# -use_value_profile=0) and with -use_value_profile=1. The counterpart of
# cli/fuzz-shapes.sh. Usage: scripts/libfuzzer-shapes.sh [MAX_RUNS] (default 300000).
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
max="${1:-300000}"
cd "$root"
cargo +nightly fuzz build --fuzz-dir bench-native-fuzz planted >&2
bin="$root/bench-native-fuzz/target/x86_64-unknown-linux-gnu/release/planted"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

runs_to_find() { # function value_profile seed -> runs, or "-" when not found
    local corpus="$work/corpus" out
    rm -rf "$corpus" "$work/artifacts"
    mkdir -p "$corpus" "$work/artifacts"
    printf 'hello world' >"$corpus/one" # libFuzzer adds its new inputs to this directory
    out="$(PLANTED_FUNCTION="$1" "$bin" -runs="$max" -seed="$3" -use_value_profile="$2" \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$corpus" 2>&1 || true)"
    if grep -q '^SUMMARY: libFuzzer: deadly signal' <<<"$out"; then
        # Counted before each run, so the crashing input's run is included.
        sed -n 's/^stat::number_of_executed_units: *\([0-9]*\)/\1/p' <<<"$out" | head -1 | grep . || echo "?"
    elif grep -q '^Done [0-9]* runs' <<<"$out"; then
        echo "-"
    else
        echo "libFuzzer failed on $1 (seed $3):" >&2
        tail -5 <<<"$out" >&2
        echo "error"
    fi
}

echo "| shape (function) | libFuzzer: runs to find, seeds 1/2/3 | libFuzzer -use_value_profile=1: runs to find, seeds 1/2/3 |"
echo "|---|---|---|"
for f in byte_magic magic32 field16 length_field nested keyword header; do
    plain=(); profile=()
    for seed in 1 2 3; do
        plain+=("$(runs_to_find "$f" 0 "$seed")")
        profile+=("$(runs_to_find "$f" 1 "$seed")")
    done
    echo "| \`$f\` | ${plain[*]} | ${profile[*]} |"
done
echo
echo "(- : not found within $max runs)"
