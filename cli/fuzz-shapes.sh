#!/usr/bin/env bash
# Benchmark (not a test): runs `interplug fuzz` needs to find each planted bug shape
# of spec-tests/fixtures/planted.wasm from the one-input corpus "hello world", with
# coverage feedback and with fuel feedback, for seeds 1-3; then the cost of the
# instrumentation in execs/s. Usage: cli/fuzz-shapes.sh [MAX_RUNS] (default 300000).
# Uses target/release/interplug when built, else target/debug/interplug.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
max="${1:-300000}"
bin="$root/target/release/interplug"
[ -x "$bin" ] || bin="$root/target/debug/interplug"
plugin="$root/spec-tests/fixtures/planted.wasm"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/seeds"
printf 'hello world' >"$work/seeds/one"

runs_to_find() { # function feedback seed -> runs, or "-" when not found
    local out
    out="$("$bin" fuzz "$plugin" "$1" --corpus "$work/seeds" --runs "$max" --seed "$3" \
        --feedback "$2" --stop-on-finding --no-minimize --out "$work/out" 2>&1 || true)"
    echo "$out" | sed -n 's/^found [a-z]* after \([0-9]*\) execs.*/\1/p' | head -1 | grep . || echo "-"
}

echo "| shape (function) | coverage: runs to find, seeds 1/2/3 | fuel: runs to find, seeds 1/2/3 |"
echo "|---|---|---|"
for f in byte_magic magic32 field16 length_field nested keyword header; do
    cov=(); fuel=()
    for seed in 1 2 3; do
        cov+=("$(runs_to_find "$f" coverage "$seed")")
        fuel+=("$(runs_to_find "$f" fuel "$seed")")
    done
    echo "| \`$f\` | ${cov[*]} | ${fuel[*]} |"
done
echo
echo "(- : not found within $max runs)"
echo
echo "execs/s of whole runs on \`count_vowels\` (20000 runs, seed 1; per-call cost: cli/examples/instrumentation_cost.rs):"
for feedback in fuel coverage; do
    "$bin" fuzz "$root/spec-tests/fixtures/count_vowels.wasm" count_vowels --input 'hello world' \
        --runs 20000 --seed 1 --feedback "$feedback" --out "$work/out" 2>/dev/null \
        | sed -n "s/^done: .*(\([0-9]*\) execs\/s).*/$feedback: \1 execs\/s/p"
done
