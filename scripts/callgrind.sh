#!/usr/bin/env bash
# Instruction counts per operation (valgrind callgrind) for the main benchmark cases:
# a regression figure that does not depend on wall-clock noise.
#
#   scripts/callgrind.sh                      # interplug, every default case
#   scripts/callgrind.sh --raw                # also the raw wasmi baseline, with the ratio
#   scripts/callgrind.sh --case echo-1m ...   # only these cases (see bench-compare --list)
#   scripts/callgrind.sh --keep DIR           # keep the callgrind.out files (callgrind_annotate)
#
# Each case runs in `bench-compare --callgrind-case NAME --iters N`: the plug-in is
# prepared and called once outside the measurement, then N operations run inside
# `callgrind_measured`, the only function collected (--toggle-collect). The count per
# operation is the collected total divided by N. The run is pinned to one CPU
# (taskset), where interplug validates a new module on the calling thread instead of
# a helper thread, so `create-cold` counts all of its work. Counts move by well under
# 1% between runs; compare them before and after a change.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/.." && pwd)"
cd "$repo_root"

runtimes=(interplug)
cases=()
keep=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --raw) runtimes=(interplug raw) ;;
        --case) cases+=("$2"); shift ;;
        --keep) keep="$2"; shift ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "callgrind.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed" >&2; exit 1; }

# Operations measured per case: enough to drown the loop's own cost, few enough that
# the whole script runs in about a minute.
iters_for() {
    case "$1" in
        create-bytes|create-compiled|create-call|compiled-call) echo 20 ;;
        create-cold) echo 3 ;;
        echo-0|host-call|var-set|var-get) echo 500 ;;
        echo-1k) echo 50 ;;
        echo-64k|vowels-4k) echo 4 ;;
        *) echo 1 ;;
    esac
}

if [[ ${#cases[@]} -eq 0 ]]; then
    cases=(create-bytes create-cold create-compiled create-call echo-0 echo-1k echo-64k echo-1m
           vowels-4k vowels-64k host-call var-set var-get compute-int compute-noint compute-fuel)
fi

cargo build --release -p bench-compare >&2
bin="$repo_root/target/release/bench-compare"
pin=""
command -v taskset >/dev/null && pin="taskset -c 0"

out_dir="${keep:-$(mktemp -d)}"
mkdir -p "$out_dir"
[[ -n "$keep" ]] || trap 'rm -rf "$out_dir"' EXIT

# Instructions per operation of one case on one runtime.
count() {
    local case="$1" runtime="$2" iters out
    iters="$(iters_for "$case")"
    out="$out_dir/callgrind.$case.$runtime.out"
    $pin valgrind --tool=callgrind --callgrind-out-file="$out" \
        --toggle-collect='*callgrind_measured*' \
        "$bin" --callgrind-case "$case" --iters "$iters" --runtime "$runtime" >/dev/null 2>"$out.log" \
        || { echo "callgrind.sh: $case on $runtime failed:" >&2; tail -n 5 "$out.log" >&2; exit 1; }
    awk -v n="$iters" '/^(summary|totals):/ { total = $2 } END { printf "%.0f", total / n }' "$out"
}

if [[ ${#runtimes[@]} -eq 2 ]]; then
    printf '| %-16s | %16s | %16s | %9s |\n' case "interplug Ir/op" "raw wasmi Ir/op" "ip / raw"
    printf '|%s|%s:|%s:|%s:|\n' ------------------ ----------------- ----------------- ----------
else
    printf '| %-16s | %16s |\n' case "interplug Ir/op"
    printf '|%s|%s:|\n' ------------------ -----------------
fi
for case in "${cases[@]}"; do
    ip="$(count "$case" interplug)"
    if [[ ${#runtimes[@]} -eq 2 ]]; then
        raw="$(count "$case" raw)"
        ratio="$(awk -v a="$ip" -v b="$raw" 'BEGIN { printf "%.2f", a / b }')"
        printf '| %-16s | %16s | %16s | %9s |\n' "$case" "$ip" "$raw" "$ratio"
    else
        printf '| %-16s | %16s |\n' "$case" "$ip"
    fi
done
if [[ -n "$keep" ]]; then
    echo "callgrind files in $keep (callgrind_annotate $keep/callgrind.CASE.RUNTIME.out)" >&2
fi
