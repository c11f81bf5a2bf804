//! The private `interplug:bulk` imports: one call that does the work of a whole PDK
//! copy loop (`input_load_u64`, `load_u64`, `store_u64` and their `u8` forms, 8 or 1
//! bytes per host call) between the plug-in's linear memory and the Extism memory.
//!
//! Only modules rewritten by the bulk-I/O pass
//! ([`crate::rewrite::bulk_io`]) call these; a plug-in may not import them itself.
//! The pass keeps the original loop behind the call: a call that returns 0 declined
//! (a trip count it cannot state, or addresses that would wrap around) and the loop
//! runs as written. Otherwise the call returns the number of iterations the loop
//! would have run, after copying exactly the bytes those iterations copy. When one of
//! them would fail, the iterations before it are copied and the call fails with the
//! error that iteration gives (the kernel import's error, or wasm's out-of-bounds
//! trap), so the rewritten plug-in is indistinguishable from the original except for
//! the fuel it uses: one charge by size instead of the loop's instructions.

use crate::{
    current_plugin::CurrentPlugin,
    env::{charge, cost, input_address, trap, IMPORT_FUEL},
    memory::FIRST_BLOCK_OFFSET,
};
use wasmi::{Caller, Extern, Linker, TrapCode};

/// The import module of the bulk functions.
pub const BULK_MODULE: &str = "interplug:bulk";

/// Copies input bytes into linear memory (a loop around `input_load_u64`/`_u8`).
pub const INPUT_TO_LINEAR: &str = "input_to_linear";
/// Copies Extism memory into linear memory (a loop around `load_u64`/`load_u8`).
pub const MEMORY_TO_LINEAR: &str = "memory_to_linear";
/// Copies linear memory into the Extism memory (a loop around `store_u64`/`store_u8`).
pub const LINEAR_TO_MEMORY: &str = "linear_to_memory";

/// Every function of [`BULK_MODULE`].
pub const BULK_FUNCTIONS: &[&str] = &[INPUT_TO_LINEAR, MEMORY_TO_LINEAR, LINEAR_TO_MEMORY];

/// The name of the linear memory export the bulk functions copy to and from.
pub const LINEAR_MEMORY_EXPORT: &str = "memory";

type Ctx<'a> = Caller<'a, CurrentPlugin>;
type Trap = wasmi::Error;

/// The comparison that ends a copy loop (`br_if 0` continues while it holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// `a != b`.
    Ne,
    /// `a < b`, unsigned.
    LtU,
}

/// What the rewritten code tells the bulk call about the loop it replaces: how the
/// loop ends and how many bytes one iteration moves. Passed as one `i64` constant.
///
/// At the end of iteration `k` (from 0) the loop compares `a0 + k * step_a` with
/// `b0 + k * step_b`, in `width`-bit arithmetic, and goes on while `compare` holds.
///
/// ```
/// use interplug::bulk::{Compare, LoopShape};
/// // `i += 8; i != end`, starting at 0 with end = 64: 8 iterations.
/// let shape = LoopShape { compare: Compare::Ne, width: 64, chunk: 8, step_a: 8, step_b: 0 };
/// assert_eq!(LoopShape::decode(shape.encode()), Some(shape));
/// assert_eq!(shape.trip_count(8, 64), Some(8));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopShape {
    /// The comparison.
    pub compare: Compare,
    /// 32 or 64.
    pub width: u32,
    /// Bytes one iteration copies: 8 or 1.
    pub chunk: u64,
    /// How much the left operand grows per iteration.
    pub step_a: i16,
    /// How much the right operand grows per iteration.
    pub step_b: i16,
}

impl LoopShape {
    /// The shape as the `i64` constant the rewritten code passes.
    pub fn encode(&self) -> i64 {
        let compare: u64 = match self.compare {
            Compare::Ne => 0,
            Compare::LtU => 1,
        };
        let bits = compare
            | (u64::from(self.width) << 8)
            | (self.chunk << 16)
            | (u64::from(self.step_a as u16) << 32)
            | (u64::from(self.step_b as u16) << 48);
        bits as i64
    }

    /// Reads a shape back; `None` for anything [`LoopShape::encode`] cannot give.
    pub fn decode(bits: i64) -> Option<Self> {
        let bits = bits as u64;
        let compare = match bits & 0xff {
            0 => Compare::Ne,
            1 => Compare::LtU,
            _ => return None,
        };
        let width = ((bits >> 8) & 0xff) as u32;
        let chunk = (bits >> 16) & 0xff;
        if !matches!(width, 32 | 64) || !matches!(chunk, 1 | 8) || (bits >> 24) & 0xff != 0 {
            return None;
        }
        Some(LoopShape {
            compare,
            width,
            chunk,
            step_a: ((bits >> 32) & 0xffff) as u16 as i16,
            step_b: ((bits >> 48) & 0xffff) as u16 as i16,
        })
    }

    /// The number of iterations (at least 1: the test comes after the body) of a
    /// loop whose operands are `a0` and `b0` at the end of the first iteration
    /// (`width`-bit values, zero-extended), or `None` when it cannot be stated
    /// simply: the loop never ends by its test, or an operand would wrap around.
    pub fn trip_count(&self, a0: i64, b0: i64) -> Option<u64> {
        let mask = if self.width == 32 {
            u64::from(u32::MAX)
        } else {
            u64::MAX
        };
        let (a0, b0) = (a0 as u64 & mask, b0 as u64 & mask);
        let iterations_after_first = match self.compare {
            Compare::Ne => {
                // The loop stops at the first k where d0 + k * sd == 0 (mod 2^width).
                let d0 = a0.wrapping_sub(b0) & mask;
                if d0 == 0 {
                    0
                } else {
                    let sd = i64::from(self.step_a) - i64::from(self.step_b);
                    let magnitude = sd.unsigned_abs();
                    if !magnitude.is_power_of_two() {
                        return None;
                    }
                    let distance = if sd > 0 { d0.wrapping_neg() & mask } else { d0 };
                    if distance % magnitude != 0 {
                        return None;
                    }
                    distance / magnitude
                }
            }
            Compare::LtU => {
                // The loop stops at the first k where a0 + k * sa >= b0, if a never
                // wraps around before.
                if self.step_b != 0 || self.step_a <= 0 {
                    return None;
                }
                let sa = self.step_a as u64;
                if a0 >= b0 {
                    0
                } else {
                    let k = (b0 - a0).div_ceil(sa);
                    let last = a0.checked_add(k.checked_mul(sa)?)?;
                    if last > mask {
                        return None;
                    }
                    k
                }
            }
        };
        iterations_after_first.checked_add(1)
    }
}

/// How many whole `chunk`-byte pieces, starting at `start` and following each other,
/// lie inside `low..high`.
fn whole_chunks(start: u64, chunk: u64, low: u64, high: u64) -> u64 {
    if start < low || high < start {
        return 0;
    }
    (high - start) / chunk
}

/// Which way a bulk call copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    InputToLinear,
    MemoryToLinear,
    LinearToMemory,
}

/// A copy the call was asked for, checked not to wrap around: `n` chunks from linear
/// address `linear` and Extism address (or input index) `extism`.
struct Copy {
    linear: u64,
    extism: u64,
    chunk: u64,
    n: u64,
}

/// The copy a bulk call describes, or `None` when the call declines it (the loop runs).
fn plan(linear: i64, extism: i64, a0: i64, b0: i64, shape: i64) -> Option<Copy> {
    let shape = LoopShape::decode(shape)?;
    let n = shape.trip_count(a0, b0)?;
    let len = n.checked_mul(shape.chunk)?;
    // The loop's i32 address must not wrap around, nor the i64 one.
    let linear = u64::try_from(linear).ok()?;
    if linear.checked_add(len)? > 1 << 32 {
        return None;
    }
    let extism = extism as u64;
    extism.checked_add(len)?;
    Some(Copy {
        linear,
        extism,
        chunk: shape.chunk,
        n,
    })
}

/// Runs a bulk call: copies what the loop's iterations copy, up to the first one
/// that fails, and returns the iteration count (0: declined).
fn bulk(
    c: &mut Ctx,
    direction: Direction,
    [linear, extism, a0, b0, shape]: [i64; 5],
) -> Result<i64, Trap> {
    let Some(copy) = plan(linear, extism, a0, b0, shape) else {
        return Ok(0);
    };
    let Some(Extern::Memory(memory)) = c.get_export(LINEAR_MEMORY_EXPORT) else {
        return Ok(0);
    };
    let (wasm, state) = memory.data_and_store_mut(&mut *c);
    let Copy {
        linear,
        extism,
        chunk,
        n,
    } = copy;
    let linear_ok = whole_chunks(linear, chunk, 0, wasm.len() as u64);
    let arena = state.memory.as_slice().len() as u64;
    let (extism_address, extism_ok) = match direction {
        Direction::InputToLinear => {
            let input = state.input;
            let in_input = whole_chunks(extism, chunk, 0, input.length);
            let address = input.offset.saturating_add(extism);
            let in_arena = whole_chunks(address, chunk, FIRST_BLOCK_OFFSET, arena);
            (address, in_input.min(in_arena))
        }
        Direction::MemoryToLinear | Direction::LinearToMemory => (
            extism,
            whole_chunks(extism, chunk, FIRST_BLOCK_OFFSET, arena),
        ),
    };
    let done = n.min(linear_ok).min(extism_ok);
    let bytes = (done * chunk) as usize;
    let (lin, ext) = (linear as usize, extism_address as usize);
    match direction {
        // Nothing to copy (the first iteration fails): the addresses may lie outside.
        _ if bytes == 0 => {}
        Direction::InputToLinear | Direction::MemoryToLinear => {
            wasm[lin..lin + bytes].copy_from_slice(&state.memory.as_slice()[ext..ext + bytes]);
        }
        Direction::LinearToMemory => {
            state.memory.as_mut_slice()[ext..ext + bytes].copy_from_slice(&wasm[lin..lin + bytes]);
        }
    }
    charge(c, cost(IMPORT_FUEL, bytes as u64));
    if done == n {
        return Ok(n as i64);
    }
    // Iteration `done` fails: the first of its two accesses that fails gives the error.
    let extism_first = match direction {
        Direction::InputToLinear | Direction::MemoryToLinear => true,
        Direction::LinearToMemory => false,
    };
    let extism_fails = done == extism_ok;
    let linear_fails = done == linear_ok;
    if extism_fails && (extism_first || !linear_fails) {
        Err(extism_error(
            c.data(),
            direction,
            extism + done * chunk,
            chunk,
        ))
    } else {
        Err(Trap::from(TrapCode::MemoryOutOfBounds))
    }
}

/// The error the kernel import gives for the failing access (`chunk` bytes at
/// `extism`: an input index or an Extism memory address).
#[cold]
fn extism_error(state: &CurrentPlugin, direction: Direction, extism: u64, chunk: u64) -> Trap {
    let memory = &state.memory;
    let address = if direction == Direction::InputToLinear {
        match input_address(state, extism as i64, chunk) {
            Ok(address) => address,
            Err(error) => return error,
        }
    } else {
        extism
    };
    let error = if chunk == 8 {
        memory.load_u64(address).err()
    } else {
        memory.load_u8(address).err()
    };
    match error {
        Some(error) => trap(error),
        // Not reached: the access was found out of bounds above.
        None => Trap::from(TrapCode::MemoryOutOfBounds),
    }
}

/// Defines the `interplug:bulk` functions on `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<CurrentPlugin>) -> Result<(), wasmi::Error> {
    for (name, direction) in [
        (INPUT_TO_LINEAR, Direction::InputToLinear),
        (MEMORY_TO_LINEAR, Direction::MemoryToLinear),
        (LINEAR_TO_MEMORY, Direction::LinearToMemory),
    ] {
        linker.func_wrap(
            BULK_MODULE,
            name,
            move |mut c: Ctx,
                  linear: i64,
                  extism: i64,
                  a0: i64,
                  b0: i64,
                  shape: i64|
                  -> Result<i64, Trap> {
                bulk(&mut c, direction, [linear, extism, a0, b0, shape])
            },
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(compare: Compare, width: u32, step_a: i16, step_b: i16) -> LoopShape {
        LoopShape {
            compare,
            width,
            chunk: 8,
            step_a,
            step_b,
        }
    }

    #[test]
    fn shapes_round_trip() {
        for s in [
            shape(Compare::Ne, 64, 8, 0),
            shape(Compare::LtU, 32, 1, 0),
            shape(Compare::Ne, 64, -1, 0),
            shape(Compare::Ne, 64, 0, 8),
        ] {
            assert_eq!(LoopShape::decode(s.encode()), Some(s));
        }
        assert_eq!(LoopShape::decode(-1), None);
        assert_eq!(LoopShape::decode(0), None);
    }

    /// The trip count against running the loop's test one iteration at a time.
    fn simulate(s: LoopShape, a0: u64, b0: u64) -> Option<u64> {
        let mask = if s.width == 32 {
            u64::from(u32::MAX)
        } else {
            u64::MAX
        };
        let (mut a, mut b) = (a0 & mask, b0 & mask);
        for k in 1..=10_000u64 {
            let go_on = match s.compare {
                Compare::Ne => a != b,
                Compare::LtU => a < b,
            };
            if !go_on {
                return Some(k);
            }
            a = a.wrapping_add(s.step_a as i64 as u64) & mask;
            b = b.wrapping_add(s.step_b as i64 as u64) & mask;
        }
        None
    }

    #[test]
    fn trip_counts_match_the_loop() {
        let shapes = [
            shape(Compare::Ne, 64, 8, 0),
            shape(Compare::Ne, 64, 0, 8),
            shape(Compare::Ne, 64, -1, 0),
            shape(Compare::Ne, 32, 1, 0),
            shape(Compare::Ne, 32, -8, 0),
            shape(Compare::LtU, 64, 1, 0),
            shape(Compare::LtU, 32, 8, 0),
        ];
        let values = [0u64, 1, 7, 8, 9, 16, 63, 64, 100, 0xffff_fff8, u64::MAX - 7];
        for s in shapes {
            for &a in &values {
                for &b in &values {
                    let expected = simulate(s, a, b);
                    match (s.trip_count(a as i64, b as i64), expected) {
                        (Some(n), Some(_)) => assert_eq!(Some(n), expected, "{s:?} a0={a} b0={b}"),
                        // A long loop: its test must fail after the n-th iteration.
                        (Some(n), None) => {
                            assert!(n > 10_000, "{s:?} a0={a} b0={b}");
                            let mask = if s.width == 32 {
                                u64::from(u32::MAX)
                            } else {
                                u64::MAX
                            };
                            let k = n - 1;
                            let at = |x: u64, step: i16| {
                                x.wrapping_add(k.wrapping_mul(step as i64 as u64)) & mask
                            };
                            let (a, b) = (at(a & mask, s.step_a), at(b & mask, s.step_b));
                            let go_on = match s.compare {
                                Compare::Ne => a != b,
                                Compare::LtU => a < b,
                            };
                            assert!(!go_on, "{s:?} a0={a} b0={b} n={n}");
                        }
                        // Declining is allowed only for loops that run long.
                        (None, _) => assert_eq!(expected, None, "{s:?} a0={a} b0={b}"),
                    }
                }
            }
        }
    }

    #[test]
    fn whole_chunk_counts() {
        assert_eq!(whole_chunks(8, 8, 8, 32), 3);
        assert_eq!(whole_chunks(8, 8, 8, 31), 2);
        assert_eq!(whole_chunks(4, 8, 8, 32), 0);
        assert_eq!(whole_chunks(40, 8, 8, 32), 0);
        assert_eq!(whole_chunks(0, 1, 0, 5), 5);
    }
}
