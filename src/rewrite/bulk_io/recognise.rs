//! Recognising a PDK copy loop, one operator at a time: a [`Recogniser`] follows the
//! values on the operand stack of a `loop` body and becomes a [`Plan`] only when the
//! body has exactly the shape the module documentation describes. Its state is
//! bounded (at most [`MAX_LOOP_OPERATORS`] operators, [`MAX_STACK`] values,
//! [`MAX_WRITTEN`] locals written, sums of [`MAX_TERMS`](super::affine::MAX_TERMS)
//! locals): a loop past a bound is not this shape, and is kept as written.

use super::affine::{Affine, Ty};
use super::scan::Kernel;
use crate::kernel::abi::{Compare, LoopShape};
use crate::rewrite::function::FunctionRewriter;
use alloc::vec::Vec;
use wasm_encoder::ValType;
use wasmparser::{MemArg, Operator};

/// The most operators in a recognised loop body (a PDK loop has about 15).
pub(super) const MAX_LOOP_OPERATORS: u32 = 48;
/// The deepest operand stack in a recognised loop body.
const MAX_STACK: usize = 8;
/// The most locals a recognised loop writes.
const MAX_WRITTEN: usize = 4;

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

/// The body of one `loop` (with no parameters or results) read so far.
#[derive(Debug, Default)]
pub(super) struct Recogniser {
    stack: Vec<Value>,
    /// Locals written in the body: their value (in terms of the iteration's start).
    written: Vec<(u32, Affine)>,
    /// The copy: the kernel import, the linear and the Extism address.
    copy: Option<(Kernel, Affine, Affine)>,
    /// The test of the final `br_if 0`, once read (only the `end` may follow).
    test: Option<(Compare, Affine, Affine)>,
    /// Operators read.
    operators: u32,
}

impl Recogniser {
    /// Takes in the next operator of the loop body (before its `end`); `None` when
    /// the body is not the recognised shape (the recogniser is then done with).
    pub(super) fn step(
        &mut self,
        op: &Operator<'_>,
        kernel: &dyn Fn(u32) -> Option<Kernel>,
        body: &FunctionRewriter<'_>,
    ) -> Option<()> {
        self.operators += 1;
        if self.operators > MAX_LOOP_OPERATORS || self.test.is_some() {
            return None;
        }
        let local_ty = |local: u32| match body.local_type(local)? {
            ValType::I32 => Some(Ty::I32),
            ValType::I64 => Some(Ty::I64),
            _ => None,
        };
        match op {
            Operator::LocalGet { local_index } => {
                let value = match self.written(*local_index) {
                    Some(value) => value.clone(),
                    None => Affine::local(local_ty(*local_index)?, *local_index),
                };
                self.push(Value::Affine(value))?;
            }
            Operator::LocalSet { local_index } | Operator::LocalTee { local_index } => {
                let ty = local_ty(*local_index)?;
                let value = self.pop_affine(ty)?;
                if self.written(*local_index).is_some()
                    || !value.is_local_plus_constant(*local_index)
                    || self.written.len() == MAX_WRITTEN
                {
                    return None;
                }
                if matches!(op, Operator::LocalTee { .. }) {
                    self.push(Value::Affine(value.clone()))?;
                }
                self.written.push((*local_index, value));
            }
            Operator::I32Const { value } => {
                self.push(Value::Affine(Affine::constant(Ty::I32, i64::from(*value))))?;
            }
            Operator::I64Const { value } => {
                self.push(Value::Affine(Affine::constant(Ty::I64, *value)))?;
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
                let right = self.pop_affine(ty)?;
                let left = self.pop_affine(ty)?;
                self.push(Value::Affine(left.combine(&right, sign)?))?;
            }
            Operator::I32Ne | Operator::I64Ne | Operator::I32LtU | Operator::I64LtU => {
                let (ty, compare) = match op {
                    Operator::I32Ne => (Ty::I32, Compare::Ne),
                    Operator::I64Ne => (Ty::I64, Compare::Ne),
                    Operator::I32LtU => (Ty::I32, Compare::LtU),
                    _ => (Ty::I64, Compare::LtU),
                };
                let b = self.pop_affine(ty)?;
                let a = self.pop_affine(ty)?;
                self.push(Value::Test { compare, a, b })?;
            }
            Operator::Call { function_index } => self.call(kernel(*function_index)?)?,
            Operator::I64Load { memarg } | Operator::I32Load8U { memarg } if plain(memarg) => {
                let chunk = if matches!(op, Operator::I64Load { .. }) {
                    8
                } else {
                    1
                };
                let linear = self.pop_affine(Ty::I32)?;
                self.push(Value::LinearLoad { chunk, linear })?;
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
                } = self.stack.pop()?
                else {
                    return None;
                };
                let linear = self.pop_affine(Ty::I32)?;
                let fetched = match called {
                    Kernel::InputLoad { chunk } | Kernel::Load { chunk } => chunk,
                    Kernel::Store { .. } => return None,
                };
                if fetched != chunk || self.copy.is_some() {
                    return None;
                }
                self.copy = Some((called, linear, extism));
            }
            Operator::BrIf { relative_depth: 0 } => {
                let Some(Value::Test { compare, a, b }) = self.stack.pop() else {
                    return None;
                };
                self.test = Some((compare, a, b));
            }
            _ => return None,
        }
        Some(())
    }

    /// A call of the data-movement import `called`.
    fn call(&mut self, called: Kernel) -> Option<()> {
        match called {
            Kernel::InputLoad { .. } | Kernel::Load { .. } => {
                let extism = self.pop_affine(Ty::I64)?;
                self.push(Value::Fetched {
                    kernel: called,
                    extism,
                })
            }
            Kernel::Store { chunk } => {
                let Value::LinearLoad {
                    chunk: loaded,
                    linear,
                } = self.stack.pop()?
                else {
                    return None;
                };
                let extism = self.pop_affine(Ty::I64)?;
                if loaded != chunk || self.copy.is_some() {
                    return None;
                }
                self.copy = Some((called, linear, extism));
                Some(())
            }
        }
    }

    /// The value written to `local` in this iteration so far.
    fn written(&self, local: u32) -> Option<&Affine> {
        self.written
            .iter()
            .find(|(l, _)| *l == local)
            .map(|(_, value)| value)
    }

    fn push(&mut self, value: Value) -> Option<()> {
        if self.stack.len() == MAX_STACK {
            return None;
        }
        self.stack.push(value);
        Some(())
    }

    fn pop_affine(&mut self, ty: Ty) -> Option<Affine> {
        match self.stack.pop()? {
            Value::Affine(value) if value.ty == ty => Some(value),
            _ => None,
        }
    }

    /// At the loop's `end`: its plan when the body had exactly the recognised shape.
    pub(super) fn finish(self) -> Option<Plan> {
        let (compare, a, b) = self.test?;
        if !self.stack.is_empty() {
            return None;
        }
        let (kernel, linear, extism) = self.copy?;
        let chunk = match kernel {
            Kernel::InputLoad { chunk } | Kernel::Load { chunk } | Kernel::Store { chunk } => chunk,
        };
        let steps = &self.written;
        let chunk_step = chunk as i64;
        if linear.step(steps) != chunk_step || extism.step(steps) != chunk_step {
            return None;
        }
        let step_a = i16::try_from(a.step(steps)).ok()?;
        let step_b = i16::try_from(b.step(steps)).ok()?;
        let shape = LoopShape {
            compare,
            width: if a.ty == Ty::I32 { 32 } else { 64 },
            chunk,
            step_a,
            step_b,
        };
        let mut updates: Vec<(u32, Ty, i64)> = steps
            .iter()
            .map(|(local, value)| (*local, value.ty, value.constant))
            .collect();
        updates.sort_by_key(|&(local, _, _)| local);
        Some(Plan {
            kernel,
            linear,
            extism,
            a,
            b,
            shape,
            updates,
        })
    }
}
