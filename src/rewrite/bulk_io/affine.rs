//! The values the recognition follows through a loop body: [`Affine`] sums of at
//! most [`MAX_TERMS`] locals (as they are when an iteration starts) plus a constant,
//! of a type [`Ty`]. Every operation on them is bounded by [`MAX_TERMS`].

use alloc::vec::Vec;

/// The most locals one sum may name (a PDK loop's addresses name one or two).
pub(super) const MAX_TERMS: usize = 4;

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
    /// Local index and coefficient (1 or -1), by local index; at most [`MAX_TERMS`].
    pub(super) terms: Vec<(u32, i64)>,
    /// The constant, wrapped to the type's width.
    pub(super) constant: i64,
}

impl Affine {
    /// The value of `local`.
    pub(super) fn local(ty: Ty, local: u32) -> Self {
        Affine {
            ty,
            terms: alloc::vec![(local, 1)],
            constant: 0,
        }
    }

    /// A constant.
    pub(super) fn constant(ty: Ty, value: i64) -> Self {
        Affine {
            ty,
            terms: Vec::new(),
            constant: ty.wrap(value),
        }
    }

    /// `self + sign * other`, when the coefficients stay 1 or -1 and at most
    /// [`MAX_TERMS`] locals remain.
    pub(super) fn combine(mut self, other: &Affine, sign: i64) -> Option<Self> {
        if self.ty != other.ty {
            return None;
        }
        for &(local, coefficient) in &other.terms {
            let added = sign * coefficient;
            match self.terms.binary_search_by_key(&local, |&(l, _)| l) {
                Ok(at) => match self.terms[at].1 + added {
                    0 => {
                        self.terms.remove(at);
                    }
                    sum @ (1 | -1) => self.terms[at].1 = sum,
                    _ => return None,
                },
                Err(at) => {
                    if self.terms.len() == MAX_TERMS {
                        return None;
                    }
                    self.terms.insert(at, (local, added));
                }
            }
        }
        self.constant = self.ty.wrap(
            self.constant
                .wrapping_add(sign.wrapping_mul(other.constant)),
        );
        Some(self)
    }

    /// How much the value grows per iteration, given each written local's step.
    pub(super) fn step(&self, steps: &[(u32, Affine)]) -> i64 {
        let sum = self.terms.iter().fold(0i64, |sum, &(local, coefficient)| {
            let step = steps
                .iter()
                .find(|(l, _)| *l == local)
                .map_or(0, |(_, value)| value.constant);
            sum.wrapping_add(coefficient.wrapping_mul(step))
        });
        self.ty.wrap(sum)
    }

    /// True when the value is `local` plus a constant.
    pub(super) fn is_local_plus_constant(&self, local: u32) -> bool {
        self.terms.as_slice() == [(local, 1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_are_bounded_and_cancel() {
        let mut sum = Affine::constant(Ty::I64, 3);
        for local in 0..MAX_TERMS as u32 {
            sum = sum
                .combine(&Affine::local(Ty::I64, local), 1)
                .expect("within the bound");
        }
        assert!(sum
            .clone()
            .combine(&Affine::local(Ty::I64, 99), 1)
            .is_none());
        let sum = sum
            .combine(&Affine::local(Ty::I64, 0), -1)
            .expect("cancels");
        assert_eq!(sum.terms.len(), MAX_TERMS - 1);
        assert!(sum.combine(&Affine::local(Ty::I64, 1), 1).is_none());
        assert!(Affine::local(Ty::I32, 1)
            .combine(&Affine::local(Ty::I64, 1), 1)
            .is_none());
    }
}
