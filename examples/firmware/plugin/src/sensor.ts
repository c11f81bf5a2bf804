// A plug-in that asks its host for sensor readings, for the firmware example's async
// host function. Written with the official AssemblyScript PDK.
import { Host, Memory } from "@extism/as-pdk";

// AssemblyScript calls `abort` on a failed assertion or bounds check; an Extism host
// has no `env.abort`, so a failure becomes a trap.
function trap(message: string | null, file: string | null, line: u32, column: u32): void {
  unreachable();
}

// The host's `read_sensor(name) -> reading`: on the firmware an async host function,
// which waits for the sensor without the plug-in noticing.
@external("extism:host/user", "read_sensor")
declare function read_sensor(name: u64): u64;

// The length of a memory block (to read the host's answer).
@external("extism:host/env", "length")
declare function block_length(offset: u64): u64;

// Reads the sensor named by the input and outputs `<name> = <reading>`.
export function read(): i32 {
  const name = Host.inputString();
  const request = Memory.allocateString(name);
  const answer = read_sensor(request.offset);
  request.free();
  const reading = new Memory(answer, block_length(answer)).toString();
  Host.outputString(name + " = " + reading);
  return 0;
}
