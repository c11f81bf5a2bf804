//! The values the recognition follows through a loop body: [`Affine`] sums of
//! locals (as they are when an iteration starts) plus a constant, of a type [`Ty`].

use std::collections::BTreeMap;

/// A value type the pass follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ty {
    /// `i32`.
    I32,
    /// `i64`.
    I64,
}

impl Ty {
    /// `value` wrapped to this type's width (as a sign-extended `i64`).
    pub(super) fn wrap(self, value: i64) -> i64 {
        match self {
            Ty::I32 => i64::from(value as i32),
            Ty::I64 => value,
        }
    }
}

/// A sum of locals (as they are at the start of an iteration) with coefficients 1 or
/// -1, plus a constant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Affine {
    /// Its type.
    pub(super) ty: Ty,
    /// Local index to coefficient (never 0).
    pub(super) terms: BTreeMap<u32, i64>,
    /// The constant, wrapped to the type's width.
    pub(super) constant: i64,
}

impl Affine {
    /// The value of `local`.
    pub(super) fn local(ty: Ty, local: u32) -> Self {
        Affine {
            ty,
            terms: BTreeMap::from([(local, 1)]),
            constant: 0,
        }
    }

    /// A constant.
    pub(super) fn constant(ty: Ty, value: i64) -> Self {
        Affine {
            ty,
            terms: BTreeMap::new(),
            constant: ty.wrap(value),
        }
    }

    /// `self + sign * other`, when the coefficients stay 1 or -1.
    pub(super) fn combine(mut self, other: &Affine, sign: i64) -> Option<Self> {
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
    pub(super) fn step(&self, steps: &BTreeMap<u32, i64>) -> i64 {
        let sum = self.terms.iter().fold(0i64, |sum, (local, coefficient)| {
            sum.wrapping_add(coefficient.wrapping_mul(steps.get(local).copied().unwrap_or(0)))
        });
        self.ty.wrap(sum)
    }

    /// True when the value is `local` plus a constant.
    pub(super) fn is_local_plus_constant(&self, local: u32) -> bool {
        self.terms.len() == 1 && self.terms.get(&local) == Some(&1)
    }
}
