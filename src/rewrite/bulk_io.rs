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

use super::additions::Additions;
use super::function::FunctionRewriter;
use super::info::ModuleInfo;
use super::pass::{rewrite, Pass};
use crate::error::{bail_kind, fail};
use crate::kernel::abi::ENV_MODULE;
use crate::kernel::abi::{
    Compare, LoopShape, BULK_MODULE, INPUT_TO_LINEAR, LINEAR_MEMORY_EXPORT, LINEAR_TO_MEMORY,
    MEMORY_TO_LINEAR,
};
use alloc::vec::Vec;
use anyhow::Error;
use std::collections::BTreeMap;
use wasm_encoder::{Instruction, ValType};
use wasmparser::{BlockType, ExternalKind, MemArg, Operator, Parser, Payload, TypeRef};

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

/// A data-movement import of the Extism kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    InputLoad { chunk: u64 },
    Load { chunk: u64 },
    Store { chunk: u64 },
}

impl Kernel {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "input_load_u64" => Kernel::InputLoad { chunk: 8 },
            "input_load_u8" => Kernel::InputLoad { chunk: 1 },
            "load_u64" => Kernel::Load { chunk: 8 },
            "load_u8" => Kernel::Load { chunk: 1 },
            "store_u64" => Kernel::Store { chunk: 8 },
            "store_u8" => Kernel::Store { chunk: 1 },
            _ => return None,
        })
    }

    /// Index into [`BulkIoPass::bulk_functions`].
    fn direction(self) -> usize {
        match self {
            Kernel::InputLoad { .. } => 0,
            Kernel::Load { .. } => 1,
            Kernel::Store { .. } => 2,
        }
    }
}

/// The bulk function names, by [`Kernel::direction`].
const DIRECTIONS: [&str; 3] = [INPUT_TO_LINEAR, MEMORY_TO_LINEAR, LINEAR_TO_MEMORY];

/// Reads the imports and exports: the data-movement imports by function index, when
/// the module has any and exports a 32-bit memory 0 as `memory`.
fn scan(wasm: &[u8]) -> Result<Option<BTreeMap<u32, Kernel>>, Error> {
    let mut kernel = BTreeMap::new();
    let mut functions = 0u32;
    let mut memory_is_32_bit = false;
    let mut memory_exported = false;
    let bad = |e: wasmparser::BinaryReaderError| fail!(Invalid, "cannot read the wasm module: {e}");
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(bad)? {
            Payload::ImportSection(reader) => {
                for import in reader {
                    let import = import.map_err(bad)?;
                    if import.module == BULK_MODULE {
                        bail_kind!(
                            NotFound,
                            "the module imports `{}`.`{}`: `{BULK_MODULE}` is private to \
                             interplug; import the Extism kernel functions from `{ENV_MODULE}`",
                            import.module,
                            import.name
                        );
                    }
                    match import.ty {
                        TypeRef::Func(_) => {
                            if import.module == ENV_MODULE {
                                if let Some(k) = Kernel::from_name(import.name) {
                                    kernel.insert(functions, k);
                                }
                            }
                            functions += 1;
                        }
                        TypeRef::Memory(ty) if !memory_is_32_bit => {
                            memory_is_32_bit = !ty.memory64;
                        }
                        _ => {}
                    }
                }
            }
            Payload::MemorySection(reader) => {
                if let Some(ty) = reader.into_iter().next() {
                    let ty = ty.map_err(bad)?;
                    memory_is_32_bit |= !ty.memory64;
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(bad)?;
                    if export.name == LINEAR_MEMORY_EXPORT
                        && export.kind == ExternalKind::Memory
                        && export.index == 0
                    {
                        memory_exported = true;
                    }
                }
            }
            Payload::CodeSectionStart { .. } => break,
            _ => {}
        }
    }
    Ok((!kernel.is_empty() && memory_is_32_bit && memory_exported).then_some(kernel))
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

/// For the `loop` at `ops[start]`: the index of its `end` when it has no nested block
/// and calls a data-movement import (a candidate), else `None`.
fn candidate_end(
    ops: &[(Operator<'_>, usize)],
    start: usize,
    kernel: &BTreeMap<u32, Kernel>,
) -> Option<usize> {
    let mut calls_kernel = false;
    for (k, (op, _)) in ops.iter().enumerate().skip(start + 1) {
        match op {
            Operator::Block { .. }
            | Operator::Loop { .. }
            | Operator::If { .. }
            | Operator::Try { .. }
            | Operator::TryTable { .. } => return None,
            Operator::End => return calls_kernel.then_some(k),
            Operator::Call { function_index } => {
                calls_kernel |= kernel.contains_key(function_index);
            }
            _ => {}
        }
    }
    None
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

/// A value type the pass follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    I32,
    I64,
}

impl Ty {
    /// `value` wrapped to this type's width (as a sign-extended `i64`).
    fn wrap(self, value: i64) -> i64 {
        match self {
            Ty::I32 => i64::from(value as i32),
            Ty::I64 => value,
        }
    }
}

/// A sum of locals (as they are at the start of an iteration) with coefficients 1 or
/// -1, plus a constant.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Affine {
    ty: Ty,
    /// Local index to coefficient (never 0).
    terms: BTreeMap<u32, i64>,
    constant: i64,
}

impl Affine {
    fn local(ty: Ty, local: u32) -> Self {
        Affine {
            ty,
            terms: BTreeMap::from([(local, 1)]),
            constant: 0,
        }
    }

    fn constant(ty: Ty, value: i64) -> Self {
        Affine {
            ty,
            terms: BTreeMap::new(),
            constant: ty.wrap(value),
        }
    }

    /// `self + sign * other`, when the coefficients stay 1 or -1.
    fn combine(mut self, other: &Affine, sign: i64) -> Option<Self> {
        if self.ty != other.ty {
            return None;
        }
        for (&local, &coefficient) in &other.terms {
            let sum = self.terms.get(&local).copied().unwrap_or(0) + sign * coefficient;
            match sum {
                0 => {
                    self.terms.remove(&local);
                }
                1 | -1 => {
                    self.terms.insert(local, sum);
                }
                _ => return None,
            }
        }
        self.constant = self.ty.wrap(
            self.constant
                .wrapping_add(sign.wrapping_mul(other.constant)),
        );
        Some(self)
    }

    /// How much the value grows per iteration, given each local's step.
    fn step(&self, steps: &BTreeMap<u32, i64>) -> i64 {
        let sum = self.terms.iter().fold(0i64, |sum, (local, coefficient)| {
            sum.wrapping_add(coefficient.wrapping_mul(steps.get(local).copied().unwrap_or(0)))
        });
        self.ty.wrap(sum)
    }

    /// True when the value is `local` plus a constant.
    fn is_local_plus_constant(&self, local: u32) -> bool {
        self.terms.len() == 1 && self.terms.get(&local) == Some(&1)
    }
}

/// A value on the operand stack of a candidate loop body.
#[derive(Debug, Clone)]
enum Value {
    Affine(Affine),
    /// The result of a load-type kernel call.
    Fetched {
        kernel: Kernel,
        extism: Affine,
    },
    /// A load from linear memory of `chunk` bytes.
    LinearLoad {
        chunk: u64,
        linear: Affine,
    },
    /// A comparison.
    Test {
        compare: Compare,
        a: Affine,
        b: Affine,
    },
}

/// What a recognised loop does, for the bulk call in front of it.
#[derive(Debug)]
struct Plan {
    kernel: Kernel,
    /// The linear address of the first iteration (i32).
    linear: Affine,
    /// The Extism address or input index of the first iteration (i64).
    extism: Affine,
    /// The test's operands at the end of the first iteration.
    a: Affine,
    b: Affine,
    shape: LoopShape,
    /// Each local the loop writes: its type and step per iteration.
    updates: Vec<(u32, Ty, i64)>,
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

/// A plain memory access of memory 0 with no offset.
fn plain(memarg: &MemArg) -> bool {
    memarg.memory == 0 && memarg.offset == 0
}

/// Reads a candidate loop (`loop` to its `end`, no nested blocks) and returns its
/// plan when it has exactly the recognised shape.
fn recognise(
    ops: &[(Operator<'_>, usize)],
    kernel: &BTreeMap<u32, Kernel>,
    body: &FunctionRewriter<'_>,
) -> Option<Plan> {
    let ops: Vec<Operator<'_>> = ops.iter().map(|(op, _)| op.clone()).collect();
    let (
        Operator::Loop {
            blockty: BlockType::Empty,
        },
        [inner @ .., Operator::BrIf { relative_depth: 0 }, Operator::End],
    ) = (ops.first()?, ops.get(1..)?)
    else {
        return None;
    };
    let local_ty = |local: u32| match body.local_type(local)? {
        ValType::I32 => Some(Ty::I32),
        ValType::I64 => Some(Ty::I64),
        _ => None,
    };
    let mut stack: Vec<Value> = Vec::new();
    // Locals written in the body: their value (in terms of the iteration's start).
    let mut written: BTreeMap<u32, Affine> = BTreeMap::new();
    let mut copy: Option<(Kernel, Affine, Affine)> = None;
    let pop_affine = |stack: &mut Vec<Value>, ty: Ty| match stack.pop()? {
        Value::Affine(value) if value.ty == ty => Some(value),
        _ => None,
    };
    for op in inner {
        match op {
            Operator::LocalGet { local_index } => {
                let value = match written.get(local_index) {
                    Some(value) => value.clone(),
                    None => Affine::local(local_ty(*local_index)?, *local_index),
                };
                stack.push(Value::Affine(value));
            }
            Operator::LocalSet { local_index } | Operator::LocalTee { local_index } => {
                let ty = local_ty(*local_index)?;
                let value = pop_affine(&mut stack, ty)?;
                if written.contains_key(local_index) || !value.is_local_plus_constant(*local_index)
                {
                    return None;
                }
                if matches!(op, Operator::LocalTee { .. }) {
                    stack.push(Value::Affine(value.clone()));
                }
                written.insert(*local_index, value);
            }
            Operator::I32Const { value } => {
                stack.push(Value::Affine(Affine::constant(Ty::I32, i64::from(*value))))
            }
            Operator::I64Const { value } => {
                stack.push(Value::Affine(Affine::constant(Ty::I64, *value)))
            }
            Operator::I32Add | Operator::I32Sub | Operator::I64Add | Operator::I64Sub => {
                let ty = match op {
                    Operator::I32Add | Operator::I32Sub => Ty::I32,
                    _ => Ty::I64,
                };
                let sign = match op {
                    Operator::I32Add | Operator::I64Add => 1,
                    _ => -1,
                };
                let right = pop_affine(&mut stack, ty)?;
                let left = pop_affine(&mut stack, ty)?;
                stack.push(Value::Affine(left.combine(&right, sign)?));
            }
            Operator::I32Ne | Operator::I64Ne | Operator::I32LtU | Operator::I64LtU => {
                let (ty, compare) = match op {
                    Operator::I32Ne => (Ty::I32, Compare::Ne),
                    Operator::I64Ne => (Ty::I64, Compare::Ne),
                    Operator::I32LtU => (Ty::I32, Compare::LtU),
                    _ => (Ty::I64, Compare::LtU),
                };
                let b = pop_affine(&mut stack, ty)?;
                let a = pop_affine(&mut stack, ty)?;
                stack.push(Value::Test { compare, a, b });
            }
            Operator::Call { function_index } => {
                let called = *kernel.get(function_index)?;
                match called {
                    Kernel::InputLoad { .. } | Kernel::Load { .. } => {
                        let extism = pop_affine(&mut stack, Ty::I64)?;
                        stack.push(Value::Fetched {
                            kernel: called,
                            extism,
                        });
                    }
                    Kernel::Store { chunk } => {
                        let Value::LinearLoad {
                            chunk: loaded,
                            linear,
                        } = stack.pop()?
                        else {
                            return None;
                        };
                        let extism = pop_affine(&mut stack, Ty::I64)?;
                        if loaded != chunk || copy.is_some() {
                            return None;
                        }
                        copy = Some((called, linear, extism));
                    }
                }
            }
            Operator::I64Load { memarg } | Operator::I32Load8U { memarg } if plain(memarg) => {
                let chunk = if matches!(op, Operator::I64Load { .. }) {
                    8
                } else {
                    1
                };
                let linear = pop_affine(&mut stack, Ty::I32)?;
                stack.push(Value::LinearLoad { chunk, linear });
            }
            Operator::I64Store { memarg } | Operator::I32Store8 { memarg } if plain(memarg) => {
                let chunk = if matches!(op, Operator::I64Store { .. }) {
                    8
                } else {
                    1
                };
                let Value::Fetched {
                    kernel: called,
                    extism,
                } = stack.pop()?
                else {
                    return None;
                };
                let linear = pop_affine(&mut stack, Ty::I32)?;
                let fetched = match called {
                    Kernel::InputLoad { chunk } | Kernel::Load { chunk } => chunk,
                    Kernel::Store { .. } => return None,
                };
                if fetched != chunk || copy.is_some() {
                    return None;
                }
                copy = Some((called, linear, extism));
            }
            _ => return None,
        }
    }
    let Some(Value::Test { compare, a, b }) = stack.pop() else {
        return None;
    };
    if !stack.is_empty() {
        return None;
    }
    let (kernel_call, linear, extism) = copy?;
    let chunk = match kernel_call {
        Kernel::InputLoad { chunk } | Kernel::Load { chunk } | Kernel::Store { chunk } => chunk,
    };
    let steps: BTreeMap<u32, i64> = written
        .iter()
        .map(|(&local, value)| (local, value.constant))
        .collect();
    let chunk_step = chunk as i64;
    if linear.step(&steps) != chunk_step || extism.step(&steps) != chunk_step {
        return None;
    }
    let step_a = i16::try_from(a.step(&steps)).ok()?;
    let step_b = i16::try_from(b.step(&steps)).ok()?;
    let shape = LoopShape {
        compare,
        width: if a.ty == Ty::I32 { 32 } else { 64 },
        chunk,
        step_a,
        step_b,
    };
    let updates = written
        .iter()
        .map(|(&local, value)| (local, value.ty, value.constant))
        .collect();
    Some(Plan {
        kernel: kernel_call,
        linear,
        extism,
        a,
        b,
        shape,
        updates,
    })
}
