// Runs a wasm32-wasip1 command under Node's WASI: `node scripts/wasi-run.mjs
// PROGRAM.wasm ARGS...`. The current directory is preopened (paths relative to it
// work); stdin, stdout and stderr are the process's; the exit status is the
// program's. Used by scripts/cross.sh for the interplug command built for wasm.
import { readFile } from "node:fs/promises";
import { argv, cwd, env, exit } from "node:process";
import { WASI } from "node:wasi";

const [program, ...args] = argv.slice(2);
if (!program) {
  console.error("usage: node scripts/wasi-run.mjs PROGRAM.wasm [ARGS...]");
  exit(2);
}
const wasi = new WASI({
  version: "preview1",
  args: [program, ...args],
  env: { RUST_BACKTRACE: env.RUST_BACKTRACE ?? "0" },
  preopens: { ".": cwd() },
  returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(program));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
exit(wasi.start(instance));
