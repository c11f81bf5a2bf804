#!/usr/bin/env bash
# What a live plug-in costs, through the C API, official libextism vs libinterplug in
# one sitting: builds live_plugins.c against each library and prints one table.
#
#   bench-compare/c/run.sh            # about a minute
#
# The official library is INTERPLUG_ORACLE_LIB, else scripts/fetch-oracle.sh fetches
# it. Each measurement runs in a fresh process; resident memory is VmRSS of
# /proc/self/status (Linux) with every plug-in alive and called once.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
oracle=${INTERPLUG_ORACLE_LIB:-$(scripts/fetch-oracle.sh | tail -n 1)}
[ -f "$oracle" ] || { echo "run.sh: no official library ($oracle)" >&2; exit 1; }
cargo build -q --release -p interplug-capi >&2
out="$root/target/bench-c"
mkdir -p "$out"
cc="${CC:-cc}"
$cc -O2 -Iinclude bench-compare/c/live_plugins.c -o "$out/live_official" \
  -L"$(dirname "$oracle")" -l:"$(basename "$oracle")" -Wl,-rpath,"$(dirname "$oracle")"
$cc -O2 -Iinclude bench-compare/c/live_plugins.c -o "$out/live_interplug" \
  -L"$root/target/release" -linterplug -Wl,-rpath,"$root/target/release"
wasm=spec-tests/fixtures/count_vowels.wasm

# field KEY LINE: the value of KEY=... in LINE.
field() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }
run() { "$out/live_$1" "$2" "$3" "$wasm"; }

declare -A rss added per us
for lib in official interplug; do
  line=$(run "$lib" bytes 100)
  rss[$lib.100]=$(field rss_kib "$line")
  added[$lib.100]=$(( $(field rss_kib "$line") - $(field base_kib "$line") ))
  line=$(run "$lib" compiled 10000)
  rss[$lib.10k]=$(field rss_kib "$line")
  added[$lib.10k]=$(( $(field rss_kib "$line") - $(field base_kib "$line") ))
  per[$lib]=$(field us_per_instance "$(run "$lib" instantiate 2000)")
done

mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
echo "| count_vowels (Rust PDK), each plug-in called once | official (libextism) | libinterplug | libinterplug / official |"
echo "|---|---:|---:|---:|"
echo "| 100 live plug-ins from bytes: process RSS | $(mib "${rss[official.100]}") | $(mib "${rss[interplug.100]}") | $(ratio "${rss[interplug.100]}" "${rss[official.100]}") |"
echo "| 100 live plug-ins from bytes: RSS added, per plug-in | $(( ${added[official.100]} / 100 )) KiB | $(( ${added[interplug.100]} / 100 )) KiB | $(ratio "${added[interplug.100]}" "${added[official.100]}") |"
echo "| 10 000 live instances of one compiled plug-in: RSS added | $(mib "${added[official.10k]}") | $(mib "${added[interplug.10k]}") | $(ratio "${added[interplug.10k]}" "${added[official.10k]}") |"
echo "| instantiate from compiled (and free), per instance | ${per[official]} us | ${per[interplug]} us | $(ratio "${per[interplug]}" "${per[official]}") |"
