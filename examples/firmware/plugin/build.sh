#!/usr/bin/env bash
# Rebuilds count_vowels.wasm from src/index.ts and sensor.wasm from src/sensor.ts with
# the official Extism AssemblyScript PDK (versions pinned in package.json /
# package-lock.json). Needs node and npm; the firmware build and the tests only use the
# committed .wasm files.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
# --runtime stub: no garbage collector (the plug-in is short-lived and small);
# --use abort=...: AssemblyScript's abort becomes a trap, so no `env.abort` import.
npx asc src/index.ts \
  --outFile count_vowels.wasm \
  --optimize --shrinkLevel 2 \
  --runtime stub \
  --use abort=src/index/trap
npx asc src/sensor.ts \
  --outFile sensor.wasm \
  --optimize --shrinkLevel 2 \
  --runtime stub \
  --use abort=src/sensor/trap
ls -l count_vowels.wasm sensor.wasm
