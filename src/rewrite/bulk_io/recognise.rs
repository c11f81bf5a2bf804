//! Recognising a PDK copy loop: a candidate (a `loop` without nested blocks that
//! calls a data-movement import) is read operator by operator, following the values
//! on the operand stack, and becomes a [`Plan`] only when it has exactly the shape
//! the module documentation describes.

use super::affine::{Affine, Ty};
use super::scan::Kernel;
use crate::kernel::abi::{Compare, LoopShape};
use crate::rewrite::function::FunctionRewriter;
use alloc::vec::Vec;
use std::collections::BTreeMap;
use wasm_encoder::ValType;
use wasmparser::{BlockType, MemArg, Operator};

/// For the `loop` at `ops[start]`: the index of its `end` when it has no nested block
/// and calls a data-movement import (a candidate), else `None`.
pub(super) fn candidate_end(
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
pub(super) struct Plan {
    /// The data-movement import the loop calls.
    pub(super) kernel: Kernel,
    /// The linear address of the first iteration (i32).
    pub(super) linear: Affine,
    /// The Extism address or input index of the first iteration (i64).
    pub(super) extism: Affine,
    /// The test's first operand at the end of the first iteration.
    pub(super) a: Affine,
    /// The test's second operand at the end of the first iteration.
    pub(super) b: Affine,
    /// The loop's shape, for the bulk function.
    pub(super) shape: LoopShape,
    /// Each local the loop writes: its type and step per iteration.
    pub(super) updates: Vec<(u32, Ty, i64)>,
}

/// A plain memory access of memory 0 with no offset.
fn plain(memarg: &MemArg) -> bool {
    memarg.memory == 0 && memarg.offset == 0
}

/// Reads a candidate loop (`loop` to its `end`, no nested blocks) and returns its
/// plan when it has exactly the recognised shape.
pub(super) fn recognise(
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
