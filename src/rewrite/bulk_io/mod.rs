//! The bulk-I/O pass: finds the loops the Extism PDKs use to move data between the
//! plug-in's memory and the Extism memory, 8 (or 1) bytes per kernel call, and puts
//! one call of an [`interplug:bulk`](crate::bulk) function in front of each, which
//! does the whole copy with one range check.
//!
//! A loop is recognised only in this exact shape, with nothing else in its body:
//!
//! - one copy: `i64.store(addr, input_load_u64(src))`, `i64.store(addr,
//!   load_u64(src))` or `store_u64(dst, i64.load(addr))` (the `u8` forms with
//!   `i32.store8`/`i32.load8_u`), on memory 0 with offset 0;
//! - addresses that are sums of locals and constants, growing by the copy's size each
//!   iteration;
//! - each local it writes written once, to itself plus a constant (`local.set` or
//!   `local.tee`);
//! - ending in `br_if 0` on `ne` or `lt_u` of two such sums.
//!
//! The loop becomes:
//!
//! ```text
//! block
//!   block
//!     i32.const <direction>
//!     table.get $bulk                   ;; null until the host filled the table
//!     ref.is_null
//!     br_if 0                           ;; (in a start function): run the loop
//!     (the loop's addresses and test operands, as they are on entry)
//!     i32.const <direction>
//!     call_indirect $bulk               ;; copies, returns the iteration count n
//!     local.tee $n
//!     i64.eqz
//!     br_if 0                           ;; 0: declined, run the loop as written
//!     (each local the loop writes += n * its step)
//!     br 1
//!   end
//!   loop ... end                        ;; the original loop, unchanged
//! end
//! ```
//!
//! The bulk functions are reached through a table the pass adds after the module's
//! own tables and exports as [`BULK_TABLE_EXPORT`]; the host fills it when it
//! instantiates the module. The pass adds no import, so no index of the module
//! moves: every section and every body without a copy loop is copied as it is,
//! without decoding it (a body is decoded only when its bytes hold a call of a
//! data-movement import), and a body with one is streamed operator by operator.
//!
//! Anything else, including a loop that almost matches or that goes past the
//! recogniser's bounds (see `recognise`), is kept as it is. The work is linear in
//! the module's size. The module must export its memory 0 as `memory`, as every
//! PDK's output does.
//!
//! ```
//! use interplug::rewrite::bulk_io::rewrite_bulk_io;
//! let wat = r#"(module
//!   (import "extism:host/env" "input_load_u64" (func $load (param i64) (result i64)))
//!   (memory (export "memory") 1)
//!   (func (export "f") (param $dst i32) (param $i i64) (param $end i64)
//!     (loop
//!       (i64.store (local.get $dst) (call $load (local.get $i)))
//!       (local.set $dst (i32.add (local.get $dst) (i32.const 8)))
//!       (br_if 0 (i64.ne (local.get $end)
//!         (local.tee $i (i64.add (local.get $i) (i64.const 8))))))))"#;
//! let (wasm, loops) = rewrite_bulk_io(&wat::parse_str(wat)?)?.expect("a kernel import");
//! assert_eq!(loops.recognised, 1);
//! wasmparser::validate(&wasm)?;
//! # Ok::<(), interplug::Error>(())
//! ```
//!
//! The files: `scan` (the kernel imports and whether the module qualifies),
//! `recognise` (the loop shape, on the values of `affine`) and this one (the pass:
//! which loops to try, and the bulk call in front of each recognised one).

mod affine;
mod recognise;
mod scan;

use super::additions::Additions;
use super::function::FunctionRewriter;
use super::info::ModuleInfo;
use super::limits::Limits;
use super::pass::{rewrite_with, Pass};
use crate::error::fail;
use crate::kernel::abi::BULK_TABLE_EXPORT;
use affine::{Affine, Ty};
use alloc::boxed::Box;
use alloc::vec::Vec;
use anyhow::Error;
use recognise::{Plan, Recogniser};
use scan::{scan, Kernel, Scan, DIRECTIONS};
use std::collections::BTreeMap;
use wasm_encoder::{Instruction, ValType};
use wasmparser::{BlockType, Operator};

/// How many loops the pass replaced and how many candidate loops (a loop around one
/// of the data-movement imports) it kept as they were.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BulkLoops {
    /// Loops with a bulk call in front.
    pub recognised: u32,
    /// Loops calling a data-movement import that did not match and stay as written.
    pub kept: u32,
}

/// Rewrites the PDK copy loops of `wasm` (a core module). Returns `None` when
/// the module has nothing to rewrite (no data-movement import, or no linear memory
/// exported as `memory`), so the caller keeps its bytes. The same as
/// [`rewrite_bulk_io_with`] without limits.
///
/// # Errors
///
/// As [`rewrite_bulk_io_with`].
pub fn rewrite_bulk_io(wasm: &[u8]) -> Result<Option<(Vec<u8>, BulkLoops)>, Error> {
    rewrite_bulk_io_with(wasm, &Limits::default())
}

/// Rewrites the PDK copy loops of `wasm` (a core module) under `limits`. Returns
/// `None` when the module has nothing to rewrite (no data-movement import, or no
/// linear memory exported as `memory`), so the caller keeps its bytes.
///
/// # Errors
///
/// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) when the module imports
/// interplug's private [`BULK_MODULE`](crate::kernel::abi::BULK_MODULE) itself;
/// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when it exports
/// [`BULK_TABLE_EXPORT`] or cannot be read; as
/// [`rewrite_with`] past the limits.
pub fn rewrite_bulk_io_with(
    wasm: &[u8],
    limits: &Limits<'_>,
) -> Result<Option<(Vec<u8>, BulkLoops)>, Error> {
    match scan(wasm)? {
        Scan::Unreadable(error) => Err(error),
        Scan::Nothing => Ok(None),
        Scan::Kernel(kernel) => rewrite_kernel_loops(wasm, kernel, limits).map(Some),
    }
}

/// Rewrites the loops around the data-movement imports `kernel` of `wasm`.
fn rewrite_kernel_loops(
    wasm: &[u8],
    kernel: BTreeMap<u32, Kernel>,
    limits: &Limits<'_>,
) -> Result<(Vec<u8>, BulkLoops), Error> {
    let last = kernel
        .keys()
        .next_back()
        .map_or(0, |&index| index as usize + 1);
    let mut by_index = alloc::vec![None; last];
    for (&index, &k) in &kernel {
        by_index[index as usize] = Some(k);
    }
    let mut pass = BulkIoPass {
        wasm,
        kernel: by_index,
        table: 0,
        bulk_type: 0,
        loops: BulkLoops::default(),
    };
    let rewritten = rewrite_with(wasm, &mut pass, limits)?;
    Ok((rewritten, pass.loops))
}

/// What the load path does with a module (one reading of its imports and exports):
/// refuses it when it uses the private bulk names (whether `enabled` or not), and
/// otherwise returns it rewritten when `enabled` and it has copy loops to rewrite, or
/// `None` to compile it as it is (also when it cannot be read: validation says why).
///
/// # Errors
///
/// As [`refuse_private_imports`], and as [`rewrite_with`](super::rewrite_with) past the
/// limits.
pub(crate) fn for_loading(
    wasm: &[u8],
    enabled: bool,
    limits: &Limits<'_>,
) -> Result<Option<Vec<u8>>, Error> {
    let kernel = match scan(wasm)? {
        Scan::Kernel(kernel) if enabled => kernel,
        _ => return Ok(None),
    };
    match rewrite_kernel_loops(wasm, kernel, limits) {
        Ok((rewritten, _)) => Ok(Some(rewritten)),
        Err(error) if crate::ErrorExt::kind(&error) == crate::ErrorKind::Invalid => Ok(None),
        Err(error) => Err(error),
    }
}

/// Checks that `wasm` does not import interplug's private
/// [`BULK_MODULE`](crate::kernel::abi::BULK_MODULE) nor export its
/// [`BULK_TABLE_EXPORT`] (what [`rewrite_bulk_io`] checks first; the load path checks
/// it whether the pass is on or off). A module that cannot be read passes: its
/// validation says why.
///
/// # Errors
///
/// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) for an import of the private
/// names, [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) for an export of
/// [`BULK_TABLE_EXPORT`].
pub fn refuse_private_imports(wasm: &[u8]) -> Result<(), Error> {
    scan(wasm).map(|_| ())
}

/// How far before a call of a data-movement import the `loop` of a recognisable copy
/// loop may start: the recogniser follows at most
/// [`MAX_LOOP_OPERATORS`](recognise::MAX_LOOP_OPERATORS) operators, none longer than
/// 32 bytes (the longest, a memory access, has at most 1 + 5 + 5 + 10).
const LOOP_WINDOW: usize = 32 * recognise::MAX_LOOP_OPERATORS as usize + 2;

/// Whether the 8 bytes of `word` include `byte`.
fn has_byte(word: u64, byte: u8) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & HIGHS != 0
}

/// The unsigned LEB128 number `bytes` start with (at most 5 bytes, as wasm allows
/// for a `u32`), if they start with one.
fn leb128_u32(bytes: &[u8]) -> Option<u32> {
    let mut value: u64 = 0;
    for (i, &byte) in bytes.iter().take(5).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return u32::try_from(value).ok();
        }
    }
    None
}

struct BulkIoPass<'a> {
    /// The original module: operators that need no change are copied from it.
    wasm: &'a [u8],
    /// The data-movement imports, by function index.
    kernel: Vec<Option<Kernel>>,
    /// The table of the bulk functions, by [`Kernel::direction`], and their type.
    table: u32,
    bulk_type: u32,
    loops: BulkLoops,
}

/// A `loop` being followed in a body: no nested block so far.
struct Followed {
    /// Where it starts.
    start: usize,
    /// Whether it calls a data-movement import.
    calls_kernel: bool,
    /// Its recogniser, while the loop still has the recognised shape.
    recogniser: Option<Box<Recogniser>>,
}

impl Followed {
    /// A loop starting at `start`, of block type `blockty` (recognised only empty).
    fn new(start: usize, blockty: BlockType) -> Self {
        Followed {
            start,
            calls_kernel: false,
            recogniser: (blockty == BlockType::Empty).then(Box::default),
        }
    }
}

impl Pass for BulkIoPass<'_> {
    fn begin(&mut self, _module: &ModuleInfo, add: &mut Additions) -> Result<(), Error> {
        self.bulk_type = add.add_type([ValType::I64; 5], [ValType::I64]);
        let size = DIRECTIONS.len() as u64;
        self.table = add.add_table(wasm_encoder::TableType {
            element_type: wasm_encoder::RefType::FUNCREF,
            table64: false,
            minimum: size,
            maximum: Some(size),
            shared: false,
        });
        add.export(
            BULK_TABLE_EXPORT,
            wasm_encoder::ExportKind::Table,
            self.table,
        );
        Ok(())
    }

    fn wants_function_names(&self) -> bool {
        false
    }

    fn function(
        &mut self,
        _module: &ModuleInfo,
        _add: &mut Additions,
        body: &mut FunctionRewriter<'_>,
    ) -> Result<(), Error> {
        if !self.may_call_kernel(body.original_bytes()) {
            // No copy loop: the body is copied as it is.
            return body.keep_rest();
        }
        // Original bytes from `copied` on are not emitted yet; they are copied as they
        // are (no index moves), up to each recognised loop and after it.
        let mut copied = None;
        let mut following: Option<Followed> = None;
        let mut count_local = None;
        let imports = &self.kernel;
        let kernel = |index: u32| imports.get(index as usize).copied().flatten();
        while let Some((op, offset)) = body.next_operator()? {
            let from = *copied.get_or_insert(offset);
            let Some(mut loop_) = following.take() else {
                // Outside a followed loop only a loop matters.
                if let Operator::Loop { blockty } = op {
                    following = Some(Followed::new(offset, blockty));
                }
                continue;
            };
            match op {
                Operator::Loop { blockty } => following = Some(Followed::new(offset, blockty)),
                Operator::Block { .. }
                | Operator::If { .. }
                | Operator::Try { .. }
                | Operator::TryTable { .. } => {}
                Operator::End => match loop_.recogniser.and_then(|r| r.finish()) {
                    Some(plan) => {
                        let (start, end) = (loop_.start, body.position());
                        body.emit_raw(self.raw(from, start)?);
                        let n = *count_local.get_or_insert_with(|| body.add_local(ValType::I64));
                        self.emit_bulk_call(body, &plan, n);
                        // The original loop, then the end of the block around the bulk
                        // call and the loop.
                        body.emit_raw(self.raw(start, end)?);
                        body.emit(&Instruction::End);
                        copied = Some(end);
                        self.loops.recognised += 1;
                    }
                    None if loop_.calls_kernel => self.loops.kept += 1,
                    None => {}
                },
                op => {
                    if let Operator::Call { function_index } = op {
                        loop_.calls_kernel |= kernel(function_index).is_some();
                    }
                    if let Some(r) = &mut loop_.recogniser {
                        if r.step(&op, &kernel, body).is_none() {
                            loop_.recogniser = None;
                        }
                    }
                    following = Some(loop_);
                }
            }
        }
        if let Some(from) = copied {
            let end = body.position();
            body.emit_raw(self.raw(from, end)?);
        }
        Ok(())
    }
}

impl BulkIoPass<'_> {
    /// The data-movement import `index` is, if it is one.
    fn kernel(&self, index: u32) -> Option<Kernel> {
        self.kernel.get(index as usize).copied().flatten()
    }

    /// Whether `body` (its original bytes) may hold a copy loop: a `call` opcode
    /// followed by the index of a data-movement import (in any LEB128 form: linkers
    /// often pad indices to 5 bytes), with a `loop` opcode of empty block type at most
    /// [`LOOP_WINDOW`] bytes before it. Every recognisable loop has both (bytes that
    /// only look like them, inside immediates, cost nothing but decoding the body).
    /// The scan looks at 8 bytes at a time for the `call` opcode.
    ///
    /// Each byte is looked at a bounded number of times: the windows before two calls
    /// are searched for `loop` only where they do not overlap.
    fn may_call_kernel(&self, body: &[u8]) -> bool {
        const CALL: u8 = 0x10;
        let mut at: usize = 0;
        // Where the last `loop` found is, and how far the search for one went.
        let mut last_loop: Option<usize> = None;
        let mut searched: usize = 0;
        // Bytes before `next` are looked at one by one; from it, 8 at once.
        let mut next: usize = 0;
        while at < body.len() {
            if at == next {
                next = at + 8;
                if let Some(word) = body.get(at..next).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
                    if !has_byte(u64::from_le_bytes(word), CALL) {
                        at = next;
                        continue;
                    }
                }
            }
            let calls_kernel = body[at] == CALL
                && body
                    .get(at + 1..)
                    .and_then(leb128_u32)
                    .is_some_and(|index| self.kernel(index).is_some());
            if calls_kernel {
                // A pair may straddle the end of the last search: start one byte back.
                let from = at
                    .saturating_sub(LOOP_WINDOW)
                    .max(searched.saturating_sub(1));
                if let Some(window) = body.get(from..at) {
                    for (i, pair) in window.windows(2).enumerate() {
                        if pair == [0x03, 0x40] {
                            last_loop = Some(from + i);
                        }
                    }
                }
                searched = at;
                if last_loop.is_some_and(|start| at - start <= LOOP_WINDOW) {
                    return true;
                }
            }
            at += 1;
        }
        false
    }

    /// The original module's bytes `from..to`.
    fn raw(&self, from: usize, to: usize) -> Result<&[u8], Error> {
        self.wasm.get(from..to).ok_or_else(|| {
            fail!(
                Invalid,
                "operator offsets {from}..{to} lie outside the module"
            )
        })
    }

    /// Emits the bulk call and the jump over the loop (which the caller emits next,
    /// followed by the `end` closing the outer block).
    fn emit_bulk_call(&self, body: &mut FunctionRewriter<'_>, plan: &Plan, n: u32) {
        let direction = plan.kernel.direction() as i32;
        body.emit(&Instruction::Block(wasm_encoder::BlockType::Empty));
        body.emit(&Instruction::Block(wasm_encoder::BlockType::Empty));
        body.emit(&Instruction::I32Const(direction));
        body.emit(&Instruction::TableGet(self.table));
        body.emit(&Instruction::RefIsNull);
        body.emit(&Instruction::BrIf(0));
        emit_as_i64(body, &plan.linear);
        emit_as_i64(body, &plan.extism);
        emit_as_i64(body, &plan.a);
        emit_as_i64(body, &plan.b);
        body.emit(&Instruction::I64Const(plan.shape.encode()));
        body.emit(&Instruction::I32Const(direction));
        body.emit(&Instruction::CallIndirect {
            type_index: self.bulk_type,
            table_index: self.table,
        });
        body.emit(&Instruction::LocalTee(n));
        body.emit(&Instruction::I64Eqz);
        body.emit(&Instruction::BrIf(0));
        for &(local, ty, step) in &plan.updates {
            body.emit(&Instruction::LocalGet(local));
            body.emit(&Instruction::LocalGet(n));
            match ty {
                Ty::I32 => {
                    body.emit(&Instruction::I32WrapI64);
                    body.emit(&Instruction::I32Const(step as i32));
                    body.emit(&Instruction::I32Mul);
                    body.emit(&Instruction::I32Add);
                }
                Ty::I64 => {
                    body.emit(&Instruction::I64Const(step));
                    body.emit(&Instruction::I64Mul);
                    body.emit(&Instruction::I64Add);
                }
            }
            body.emit(&Instruction::LocalSet(local));
        }
        body.emit(&Instruction::Br(1));
        body.emit(&Instruction::End);
    }
}

/// Emits `value` as it is when the loop starts, zero-extended to `i64`.
fn emit_as_i64(body: &mut FunctionRewriter<'_>, value: &Affine) {
    let (constant, add, sub) = match value.ty {
        Ty::I32 => (
            Instruction::I32Const(value.constant as i32),
            Instruction::I32Add,
            Instruction::I32Sub,
        ),
        Ty::I64 => (
            Instruction::I64Const(value.constant),
            Instruction::I64Add,
            Instruction::I64Sub,
        ),
    };
    body.emit(&constant);
    for &(local, coefficient) in &value.terms {
        body.emit(&Instruction::LocalGet(local));
        body.emit(if coefficient > 0 { &add } else { &sub });
    }
    if value.ty == Ty::I32 {
        body.emit(&Instruction::I64ExtendI32U);
    }
}
