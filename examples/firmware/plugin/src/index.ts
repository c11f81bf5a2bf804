// A small Extism plug-in for the bare-metal firmware example, written with the
// official AssemblyScript PDK.
import { Config, Host } from "@extism/as-pdk";

// AssemblyScript calls `abort` on a failed assertion or bounds check; an Extism host
// has no `env.abort`, so a failure becomes a trap.
function trap(message: string | null, file: string | null, line: u32, column: u32): void {
  unreachable();
}

// Counts the vowels of the input (ASCII; the set can be changed with the `vowels`
// config key) and outputs `{"count": N, "vowels": "..."}`.
export function count_vowels(): i32 {
  const input = Host.input();
  const configured = Config.get("vowels");
  const vowels = configured == null ? "aeiouAEIOU" : configured;
  let count = 0;
  for (let i = 0; i < input.length; i++) {
    if (vowels.indexOf(String.fromCharCode(input[i])) >= 0) {
      count += 1;
    }
  }
  Host.outputString('{"count": ' + count.toString() + ', "vowels": "' + vowels + '"}');
  return 0;
}

// Echoes its input.
export function echo(): i32 {
  Host.output(Host.input());
  return 0;
}
