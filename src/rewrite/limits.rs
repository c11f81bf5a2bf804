//! [`Limits`]: what bounds one rewrite (the memory it may hold, and a check it calls
//! every so often, which the load path makes from the creation's deadline and
//! cancel), and [`Usage`], the count of what it holds.

use crate::error::fail;
use anyhow::Error;

/// Operators a rewrite reads between two calls of [`Limits::interrupt`].
pub(super) const CHECK_EVERY: u32 = 1 << 14;

/// What bounds one rewrite. The layer's own work is linear in the module's size; these
/// bound the rest: how much memory it may hold and how long it may run.
///
/// ```
/// use interplug::rewrite::{rewrite_with, Identity, Limits};
/// let wasm = wat::parse_str(r#"(module (func (export "f") (result i32) i32.const 7))"#)?;
/// let error = rewrite_with(&wasm, &mut Identity, &Limits::with_max_bytes(16)).unwrap_err();
/// assert_eq!(interplug::ErrorExt::kind(&error), interplug::ErrorKind::LimitExceeded);
/// assert!(rewrite_with(&wasm, &mut Identity, &Limits::default()).is_ok());
/// # Ok::<(), interplug::Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct Limits<'a> {
    /// The most bytes the rewrite may hold at once: what it records about the module,
    /// the bodies it has rewritten and the module it writes (the input is not
    /// counted). Past it the rewrite fails with
    /// [`ErrorKind::LimitExceeded`](crate::ErrorKind::LimitExceeded).
    pub max_bytes: usize,
    /// Called before each body and every few thousand operators; an error it returns
    /// stops the rewrite and is returned (e.g. a deadline or a cancel).
    pub interrupt: Option<&'a dyn Fn() -> Result<(), Error>>,
}

impl Default for Limits<'_> {
    /// No memory cap, no interruption.
    fn default() -> Self {
        Limits {
            max_bytes: usize::MAX,
            interrupt: None,
        }
    }
}

impl core::fmt::Debug for Limits<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Limits")
            .field("max_bytes", &self.max_bytes)
            .field("interrupt", &self.interrupt.is_some())
            .finish()
    }
}

impl<'a> Limits<'a> {
    /// At most `max_bytes` held, no interruption.
    pub fn with_max_bytes(max_bytes: usize) -> Self {
        Limits {
            max_bytes,
            interrupt: None,
        }
    }

    /// These limits, with `interrupt` called every so often.
    pub fn with_interrupt(self, interrupt: &'a dyn Fn() -> Result<(), Error>) -> Self {
        Limits {
            interrupt: Some(interrupt),
            ..self
        }
    }

    /// Calls the interrupt check, if any.
    pub(super) fn check(&self) -> Result<(), Error> {
        match self.interrupt {
            Some(interrupt) => interrupt(),
            None => Ok(()),
        }
    }
}

/// The bytes a rewrite holds, against its cap.
#[derive(Debug, Clone, Copy)]
pub(super) struct Usage {
    held: usize,
    max: usize,
}

impl Usage {
    /// Nothing held yet, under `limits`.
    pub(super) fn new(limits: &Limits<'_>) -> Self {
        Usage {
            held: 0,
            max: limits.max_bytes,
        }
    }

    /// Counts `bytes` more.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::LimitExceeded`](crate::ErrorKind::LimitExceeded) past the cap.
    pub(super) fn charge(&mut self, bytes: usize) -> Result<(), Error> {
        self.held = self.held.saturating_add(bytes);
        if self.held > self.max {
            return Err(fail!(
                LimitExceeded,
                "rewriting the module needs more than the {} bytes of memory it may use at \
                 load time; use a smaller module",
                self.max
            ));
        }
        Ok(())
    }

    /// Counts `bytes` fewer (freed).
    pub(super) fn release(&mut self, bytes: usize) {
        self.held = self.held.saturating_sub(bytes);
    }
}
