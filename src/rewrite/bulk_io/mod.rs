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
//!     (the loop's addresses and test operands, as they are on entry)
//!     call interplug:bulk.<direction>   ;; copies, returns the iteration count n
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
//! Anything else, including a loop that almost matches, is kept as it is. The module
//! must export its memory 0 as `memory`, as every PDK's output does.
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
//! the bulk call in front of each recognised loop).

mod affine;
mod recognise;
mod scan;

use super::additions::Additions;
use super::function::FunctionRewriter;
use super::info::ModuleInfo;
use super::pass::{rewrite, Pass};
use crate::error::fail;
use crate::kernel::abi::BULK_MODULE;
use affine::{Affine, Ty};
use alloc::vec::Vec;
use anyhow::Error;
use recognise::{candidate_end, recognise, Plan};
use scan::{scan, Kernel, DIRECTIONS};
use std::collections::BTreeMap;
use wasm_encoder::{Instruction, ValType};
use wasmparser::Operator;

/// How many loops the pass replaced and how many candidate loops (a loop around one
/// of the data-movement imports) it kept as they were.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BulkLoops {
    /// Loops with a bulk call in front.
    pub recognised: u32,
    /// Loops calling a data-movement import that did not match and stay as written.
    pub kept: u32,
}

/// Rewrites the PDK copy loops of `wasm` (a validated module). Returns `None` when
/// the module has nothing to rewrite (no data-movement import, or no linear memory
/// exported as `memory`), so the caller keeps its bytes.
///
/// # Errors
///
/// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) when the module imports
/// interplug's private [`BULK_MODULE`] itself, and
/// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when it cannot be read.
pub fn rewrite_bulk_io(wasm: &[u8]) -> Result<Option<(Vec<u8>, BulkLoops)>, Error> {
    let Some(kernel) = scan(wasm)? else {
        return Ok(None);
    };
    let mut pass = BulkIoPass {
        wasm,
        kernel,
        bulk_functions: [0; 3],
        loops: BulkLoops::default(),
    };
    let rewritten = rewrite(wasm, &mut pass)?;
    Ok(Some((rewritten, pass.loops)))
}

/// Checks that `wasm` does not import interplug's private [`BULK_MODULE`] (what
/// [`rewrite_bulk_io`] checks first, for when the pass is off).
///
/// # Errors
///
/// As [`rewrite_bulk_io`].
pub fn refuse_private_imports(wasm: &[u8]) -> Result<(), Error> {
    scan(wasm).map(|_| ())
}

struct BulkIoPass<'a> {
    /// The original module: operators that need no change are copied from it.
    wasm: &'a [u8],
    kernel: BTreeMap<u32, Kernel>,
    /// Final function indices of the three bulk functions, by [`Kernel::direction`].
    bulk_functions: [u32; 3],
    loops: BulkLoops,
}

impl Pass for BulkIoPass<'_> {
    fn begin(&mut self, _module: &ModuleInfo, add: &mut Additions) -> Result<(), Error> {
        let ty = add.add_type([ValType::I64; 5], [ValType::I64]);
        for (slot, name) in self.bulk_functions.iter_mut().zip(DIRECTIONS) {
            *slot = add.import_function(BULK_MODULE, name, ty)?;
        }
        Ok(())
    }

    fn function(
        &mut self,
        _module: &ModuleInfo,
        _add: &mut Additions,
        body: &mut FunctionRewriter<'_>,
    ) -> Result<(), Error> {
        // The whole body first: each operator's bytes end where the next one starts.
        let mut ops: Vec<(Operator<'_>, usize)> = Vec::new();
        while let Some(op) = body.next_operator()? {
            ops.push(op);
        }
        let Some(&(_, first)) = ops.first() else {
            return Ok(());
        };
        // The body's last operator is its one-byte `end`.
        let body_end = ops.last().map_or(first, |(_, offset)| offset + 1);
        let end_of = |i: usize| ops.get(i + 1).map_or(body_end, |(_, offset)| *offset);
        // Original bytes from `copied` on are not emitted yet. Operators are copied as
        // bytes, except those referring to a function index (the only index space
        // the added imports shift), which are re-encoded.
        let mut copied = first;
        let mut count_local = None;
        let mut i = 0;
        while i < ops.len() {
            match &ops[i].0 {
                Operator::Loop { .. } => {
                    if let Some(last) = candidate_end(&ops, i, &self.kernel) {
                        match recognise(&ops[i..=last], &self.kernel, body) {
                            Some(plan) => {
                                body.emit_raw(self.raw(copied, ops[i].1)?);
                                let n = *count_local
                                    .get_or_insert_with(|| body.add_local(ValType::I64));
                                self.emit_bulk_call(body, &plan, n);
                                // The original loop, then the end of the block around
                                // the bulk call and the loop.
                                copied = ops[i].1;
                                for (k, (op, offset)) in
                                    ops.iter().enumerate().take(last + 1).skip(i)
                                {
                                    if refers_to_function(op) {
                                        body.emit_raw(self.raw(copied, *offset)?);
                                        body.keep(op.clone())?;
                                        copied = end_of(k);
                                    }
                                }
                                body.emit_raw(self.raw(copied, end_of(last))?);
                                copied = end_of(last);
                                body.emit(&Instruction::End);
                                self.loops.recognised += 1;
                                i = last + 1;
                                continue;
                            }
                            None => self.loops.kept += 1,
                        }
                    }
                }
                op if refers_to_function(op) => {
                    body.emit_raw(self.raw(copied, ops[i].1)?);
                    body.keep(op.clone())?;
                    copied = end_of(i);
                }
                _ => {}
            }
            i += 1;
        }
        body.emit_raw(self.raw(copied, body_end)?);
        Ok(())
    }
}

/// True for operators that name a function index.
fn refers_to_function(op: &Operator<'_>) -> bool {
    matches!(
        op,
        Operator::Call { .. } | Operator::ReturnCall { .. } | Operator::RefFunc { .. }
    )
}

impl BulkIoPass<'_> {
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
        body.emit(&Instruction::Block(wasm_encoder::BlockType::Empty));
        body.emit(&Instruction::Block(wasm_encoder::BlockType::Empty));
        emit_as_i64(body, &plan.linear);
        emit_as_i64(body, &plan.extism);
        emit_as_i64(body, &plan.a);
        emit_as_i64(body, &plan.b);
        body.emit(&Instruction::I64Const(plan.shape.encode()));
        body.emit(&Instruction::Call(
            self.bulk_functions[plan.kernel.direction()],
        ));
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
    for (&local, &coefficient) in &value.terms {
        body.emit(&Instruction::LocalGet(local));
        body.emit(if coefficient > 0 { &add } else { &sub });
    }
    if value.ty == Ty::I32 {
        body.emit(&Instruction::I64ExtendI32U);
    }
}
