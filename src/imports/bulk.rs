//! The private bulk functions: one call that does the work of a whole PDK copy loop
//! (`input_load_u64`, `load_u64`, `store_u64` and their `u8` forms, 8 or 1 bytes per
//! host call) between the plug-in's linear memory and the Extism memory.
//!
//! Only modules rewritten by the bulk-I/O pass ([`crate::rewrite::bulk_io`]) call
//! these, through the table the pass adds, which [`fill_table`] fills at
//! instantiation; a plug-in may not import `interplug:bulk` itself.
//! The pass keeps the original loop behind the call: a call that returns 0 declined
//! (a trip count it cannot state, or addresses that would wrap around) and the loop
//! runs as written. Otherwise the call returns the number of iterations the loop
//! would have run, after copying exactly the bytes those iterations copy. When one of
//! them would fail, the iterations before it are copied and the call fails with the
//! error that iteration gives (the kernel import's error, or wasm's out-of-bounds
//! trap), so the rewritten plug-in is indistinguishable from the original except for
//! the fuel it uses: one charge by size instead of the loop's instructions.

use crate::{
    host::current_plugin::CurrentPlugin,
    host::current_plugin::{charge, cost, input_address, memory_trap as trap, IMPORT_FUEL},
    kernel::abi::{LoopShape, BULK_TABLE_EXPORT},
    kernel::memory::FIRST_BLOCK_OFFSET,
};
use wasmi::{AsContextMut, Caller, Func, Instance, Nullable, Ref, TrapCode};

type Ctx<'a> = Caller<'a, CurrentPlugin>;
type Trap = wasmi::Error;

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

/// Runs a bulk call from the module whose linear memory is in `slot`: copies what the
/// loop's iterations copy, up to the first one that fails, and returns the iteration
/// count (0: declined).
fn bulk(
    c: &mut Ctx,
    slot: usize,
    direction: Direction,
    [linear, extism, a0, b0, shape]: [i64; 5],
) -> Result<i64, Trap> {
    let Some(copy) = plan(linear, extism, a0, b0, shape) else {
        return Ok(0);
    };
    // Found once at instantiation; unknown only in a start function (the loop runs).
    let Some(memory) = c.data().linear_memories.get(slot) else {
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

/// The bulk call copying in `direction`, for the module whose linear memory is in
/// `slot`.
fn bulk_fn(
    slot: usize,
    direction: Direction,
) -> impl Fn(Ctx<'_>, i64, i64, i64, i64, i64) -> Result<i64, Trap> + Send + Sync + 'static {
    move |mut c: Ctx<'_>, linear: i64, extism: i64, a0: i64, b0: i64, shape: i64| {
        bulk(&mut c, slot, direction, [linear, extism, a0, b0, shape])
    }
}

/// Fills the table a module rewritten by the bulk-I/O pass exports as
/// [`BULK_TABLE_EXPORT`] with the bulk functions, in the order of
/// [`BULK_FUNCTIONS`](crate::kernel::abi::BULK_FUNCTIONS), made for the module whose
/// linear memory is in `slot`; does nothing for an instance that exports no such
/// table. Until it is filled (in a start function), the rewritten code runs its
/// loops as written.
pub(crate) fn fill_table<S: AsContextMut<Data = CurrentPlugin>>(
    store: &mut S,
    instance: &Instance,
    slot: usize,
) -> Result<(), wasmi::Error> {
    // Without `std` nothing is rewritten (and a module's own export of the name is
    // not refused): nothing to fill.
    if !cfg!(feature = "std") {
        return Ok(());
    }
    let Some(table) = instance.get_table(&*store, BULK_TABLE_EXPORT) else {
        return Ok(());
    };
    for (index, direction) in [
        Direction::InputToLinear,
        Direction::MemoryToLinear,
        Direction::LinearToMemory,
    ]
    .into_iter()
    .enumerate()
    {
        let func = Func::wrap(&mut *store, bulk_fn(slot, direction));
        table.set(&mut *store, index as u64, Ref::Func(Nullable::Val(func)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_chunk_counts() {
        assert_eq!(whole_chunks(8, 8, 8, 32), 3);
        assert_eq!(whole_chunks(8, 8, 8, 31), 2);
        assert_eq!(whole_chunks(4, 8, 8, 32), 0);
        assert_eq!(whole_chunks(40, 8, 8, 32), 0);
        assert_eq!(whole_chunks(0, 1, 0, 5), 5);
    }
}
