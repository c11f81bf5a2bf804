#!/usr/bin/env bash
# Builds every cargo-fuzz target and runs each for FUZZ_SECONDS (default 30) from the
# committed seed corpora in fuzz/seeds/ (the regression inputs). Needs nightly.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${FUZZ_SECONDS:-30}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cargo +nightly fuzz build -O
for target in $(cargo +nightly fuzz list); do
  work="corpus/$target"
  mkdir -p "$work" "seeds/$target"
  echo "fuzz $target for ${seconds}s"
  cargo +nightly fuzz run -O "$target" "$work" "seeds/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=30 -print_final_stats=1 2>&1 \
    | grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|Done)|ERROR|panicked" || true
  # A crash leaves an artifact; fail on it.
  if [ -n "$(find "artifacts/$target" -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' \) 2>/dev/null)" ]; then
    echo "fuzz target $target found a failure: see fuzz/artifacts/$target" >&2
    exit 1
  fi
done
