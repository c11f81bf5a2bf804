//! The memory budget of one instance: linear memories, tables and the Extism memory
//! counted against `memory.max_pages`, and the caps that hold without a budget.

use crate::{
    error::{fail, Failure},
    kernel::memory::DEFAULT_ARENA_LIMIT,
    Error,
};

/// Bytes in one wasm page.
pub const PAGE_BYTES: u64 = 64 * 1024;

/// The most table elements one instance holds, summed over all its tables, whatever
/// its memory budget: 1 048 576 elements, 8 MiB of host memory at most. Official PDK
/// plug-ins hold a few hundred to a few thousand.
pub const MAX_TABLE_ELEMENTS: u64 = 1 << 20;

/// Host bytes counted against the memory budget per table element: a 4-byte
/// reference, twice for the slack of a growing table.
pub const TABLE_ELEMENT_BYTES: u64 = 8;

/// One memory budget for the linear memories, the tables and the Extism memory of an
/// instance.
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    /// Total bytes allowed, when `memory.max_pages` is set.
    pub(crate) total: Option<u64>,
    /// Bytes the instance's linear memories hold now.
    pub(crate) linear_bytes: u64,
    /// Elements the instance's tables hold now.
    pub(crate) table_elements: u64,
    /// Set when a request was refused during the current call.
    pub(crate) oom: bool,
    /// Why the last request was refused, when that was not the Extism memory or a
    /// linear memory going over the budget (a table cap).
    pub(crate) refusal: Option<Failure>,
    /// What the budget counted before the last growth it allowed, until the engine
    /// either makes it or reports that it failed ([`Budget::undo_growth`]).
    pub(crate) before_growth: Option<Counted>,
    /// The bytes linear memories grew over since [`Budget::take_grown`] was last
    /// called (the smallest start and largest end): the engine wrote zeros there.
    grown: Option<(u64, u64)>,
    /// Makes the pages a growth fills resident in one go (lazy memory only; set once
    /// the instance's memories are made, see `plugin/store.rs`).
    pub(crate) growth_prefault: Option<crate::limits::linear::GrowthPrefault>,
}

/// What the budget counts for an instance's linear memories and tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counted {
    /// Bytes of linear memory.
    pub(crate) linear_bytes: u64,
    /// Table elements.
    pub(crate) table_elements: u64,
}

impl Budget {
    pub(crate) fn new(max_pages: Option<u32>) -> Self {
        Budget {
            total: max_pages.map(|pages| u64::from(pages) * PAGE_BYTES),
            linear_bytes: 0,
            table_elements: 0,
            oom: false,
            refusal: None,
            before_growth: None,
            grown: None,
            growth_prefault: None,
        }
    }

    /// Counts a growth the engine is about to make: `linear_bytes` and
    /// `table_elements` become the new totals. The engine may still fail the growth
    /// after this (out of fuel, out of host memory, past a table's maximum): then
    /// [`Budget::undo_growth`] restores the totals, so that a growth is counted once
    /// even when the call resumes and asks again.
    pub(crate) fn commit_growth(&mut self, linear_bytes: u64, table_elements: u64) {
        self.before_growth = Some(Counted {
            linear_bytes: self.linear_bytes,
            table_elements: self.table_elements,
        });
        self.linear_bytes = linear_bytes;
        self.table_elements = table_elements;
    }

    /// Notes that a linear memory grows from `current` to `desired` bytes.
    pub(crate) fn note_grown(&mut self, current: u64, desired: u64) {
        self.grown = Some(match self.grown {
            Some((start, end)) => (start.min(current), end.max(desired)),
            None => (current, desired),
        });
    }

    /// The bytes linear memories grew over since the last call (`start..end`), if any.
    pub(crate) fn take_grown(&mut self) -> Option<core::ops::Range<u64>> {
        self.grown.take().map(|(start, end)| start..end)
    }

    /// Forgets the last growth [`Budget::commit_growth`] counted: the engine did not
    /// make it.
    pub(crate) fn undo_growth(&mut self) {
        if let Some(before) = self.before_growth.take() {
            self.linear_bytes = before.linear_bytes;
            self.table_elements = before.table_elements;
        }
    }

    /// Bytes the budget counts for the tables.
    pub(crate) fn table_bytes(&self) -> u64 {
        self.table_elements.saturating_mul(TABLE_ELEMENT_BYTES)
    }

    /// How far the Extism memory (arena and bookkeeping) may grow now.
    pub(crate) fn extism_limit(&self) -> u64 {
        self.total.map_or(DEFAULT_ARENA_LIMIT, |t| {
            t.saturating_sub(self.linear_bytes)
                .saturating_sub(self.table_bytes())
        })
    }

    /// Notes that a request was refused, with the reason when it is not the plain
    /// out-of-memory error.
    pub(crate) fn refuse(&mut self, reason: Option<Failure>) {
        self.oom = true;
        self.refusal = reason;
    }

    /// Forgets a refusal (done when a call starts).
    pub(crate) fn clear_refusal(&mut self) {
        self.oom = false;
        self.refusal = None;
    }

    /// The error reported when the budget or a cap was hit.
    pub(crate) fn oom_error(&self) -> Error {
        if let Some(reason) = &self.refusal {
            return Error::new(reason.clone());
        }
        match self.total {
            Some(total) => fail!(
                OutOfMemory,
                "oom: the plug-in went over its memory budget of {} pages ({} bytes, \
                 memory.max_pages in the manifest)",
                total / PAGE_BYTES,
                total
            ),
            None => fail!(OutOfMemory, "oom: the plug-in ran out of memory"),
        }
    }
}
