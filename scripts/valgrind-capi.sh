#!/usr/bin/env bash
# Runs the C API test program (capi/tests/c/test.c) under Valgrind memcheck against
# libinterplug.so: no invalid reads/writes, no use of uninitialised memory, and no
# definite leaks. Exits non-zero on any error Valgrind reports.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
# A debug build: optimised Rust code makes LLVM compare uninitialised padding of enums,
# which memcheck reports as false "conditional jump" errors.
cargo build -p interplug-capi
lib_dir="$PWD/target/debug"
work="$PWD/target/valgrind-capi"
mkdir -p "$work"
cc -std=c11 -Wall -Wextra -Werror -g -O1 -I include capi/tests/c/test.c \
  -L "$lib_dir" -linterplug -Wl,-rpath,"$lib_dir" -lpthread -o "$work/test"
valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
  --show-leak-kinds=definite --track-origins=yes --suppressions=/dev/null \
  "$work/test" spec-tests/fixtures 2>&1 | tee "$work/valgrind.log" | tail -n 25
