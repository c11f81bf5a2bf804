#!/usr/bin/env bash
# Builds every cargo-fuzz target and runs each for FUZZ_SECONDS (default 30) from the
# committed seed corpora in fuzz/seeds/ (the regression inputs). Needs nightly.
#
#   scripts/fuzz-smoke.sh                      # every target of `cargo fuzz list`
#   scripts/fuzz-smoke.sh rewrite_layer ...    # only these targets
#
# The targets: manifest, memory_ops, plugin_input, kernel_calls, kernel_churn,
# plugin_coverage, instrumented_vs_plain, bulk_io, rewrite_layer (fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${FUZZ_SECONDS:-30}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  cargo +nightly fuzz build -O
  mapfile -t targets < <(cargo +nightly fuzz list)
else
  for target in "${targets[@]}"; do cargo +nightly fuzz build -O "$target"; done
fi
for target in "${targets[@]}"; do
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
