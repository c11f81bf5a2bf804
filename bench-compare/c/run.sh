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
# run LIB MODE N: the program's report, or "failed=..." with its last error line.
run() {
  local err
  err=$(mktemp)
  if ! "$out/live_$1" "$2" "$3" "$wasm" 2>"$err"; then
    echo "failed=$(tail -n 1 "$err" | tr ' ' '_')"
  fi
  rm -f "$err"
}

mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b > 0) printf "%.2fx", a / b; else printf "-" }'; }
declare -A rss added shown per
for lib in official interplug; do
  for n in 100 10000; do
    mode=bytes
    [ "$n" = 10000 ] && mode=compiled
    line=$(run "$lib" "$mode" "$n")
    if [ -n "$(field failed "$line")" ]; then
      rss[$lib.$n]=""; added[$lib.$n]=""
      shown[$lib.$n]="failed ($(field failed "$line" | tr '_' ' '))"
    else
      rss[$lib.$n]=$(field rss_kib "$line")
      added[$lib.$n]=$(( $(field rss_kib "$line") - $(field base_kib "$line") ))
      shown[$lib.$n]="$(mib "${added[$lib.$n]}")"
    fi
  done
  per[$lib]=$(field us_per_instance "$(run "$lib" instantiate 2000)")
done

echo "| count_vowels (Rust PDK), each plug-in called once | official (libextism) | libinterplug | libinterplug / official |"
echo "|---|---:|---:|---:|"
echo "| 100 live plug-ins from bytes: process RSS | $(mib "${rss[official.100]}") | $(mib "${rss[interplug.100]}") | $(ratio "${rss[interplug.100]}" "${rss[official.100]}") |"
echo "| 100 live plug-ins from bytes: RSS added | ${shown[official.100]} | ${shown[interplug.100]} | $(ratio "${added[interplug.100]}" "${added[official.100]}") |"
echo "| 10 000 live instances of one compiled plug-in: RSS added | ${shown[official.10000]} | ${shown[interplug.10000]} | $(ratio "${added[interplug.10000]}" "${added[official.10000]}") |"
echo "| an instance of the compiled plug-in, called once and freed | ${per[official]} us | ${per[interplug]} us | $(ratio "${per[interplug]}" "${per[official]}") |"
