//! The memory budget and the table cap enforced on the engine's own requests: every
//! `memory.grow`, table creation and `table.grow` of an instance asks here first.

use crate::{
    error::Failure,
    host::current_plugin::CurrentPlugin,
    limits::budget::{MAX_TABLE_ELEMENTS, PAGE_BYTES, TABLE_ELEMENT_BYTES},
    ErrorKind,
};

impl wasmi::ResourceLimiter for CurrentPlugin {
    /// Called when a linear memory is created (`current` 0) and on `memory.grow`: the
    /// memories, tables and Extism memory stay within the budget. Capacity the Extism
    /// memory holds above its top is given back before a request is refused for it.
    /// The growth is counted here, once: when the engine then fails it (out of fuel,
    /// and the call resumes to ask again; out of host memory),
    /// [`memory_grow_failed`](wasmi::ResourceLimiter::memory_grow_failed) takes it back.
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, wasmi_core::LimiterError> {
        let linear = (self.budget.linear_bytes + desired as u64).saturating_sub(current as u64);
        if let Some(total) = self.budget.total {
            let others = linear.saturating_add(self.budget.table_bytes());
            self.memory.fit_within(total.saturating_sub(others));
            let used = others.saturating_add(self.memory.footprint_bytes());
            if used > total {
                self.budget.refuse(None);
                return Err(wasmi_core::LimiterError::ResourceLimiterDeniedAllocation);
            }
        }
        let tables = self.budget.table_elements;
        self.budget.commit_growth(linear, tables);
        // The engine writes zeros over the new bytes: where they stay zero, the pages
        // go back to the system after the call (lazy memory).
        self.budget.note_grown(current as u64, desired as u64);
        if let Some(prefault) = &self.budget.growth_prefault {
            prefault.growing(current, desired);
        }
        // Allocation went on after any refused request: a later failure is not
        // explained by it.
        self.budget.oom = false;
        self.memory.set_limit(self.budget.extism_limit());
        Ok(true)
    }

    fn memory_grow_failed(
        &mut self,
        _error: &wasmi_core::MemoryError,
    ) -> Result<(), wasmi_core::LimiterError> {
        self.budget.undo_growth();
        self.memory.set_limit(self.budget.extism_limit());
        Ok(())
    }

    fn table_grow_failed(
        &mut self,
        _error: &wasmi_core::TableError,
    ) -> Result<(), wasmi_core::LimiterError> {
        self.budget.undo_growth();
        self.memory.set_limit(self.budget.extism_limit());
        Ok(())
    }

    /// Called when a table is created (`current` 0) and on `table.grow`: the elements
    /// of all tables stay under [`MAX_TABLE_ELEMENTS`] and, with a budget, their
    /// [`TABLE_ELEMENT_BYTES`] fit in it with the memories. A refused creation fails
    /// instantiation with the reason; a refused `table.grow` returns -1.
    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, wasmi_core::LimiterError> {
        let elements = self
            .budget
            .table_elements
            .saturating_sub(current as u64)
            .saturating_add(desired as u64);
        if elements > MAX_TABLE_ELEMENTS {
            self.budget.refuse(Some(Failure::new(
                ErrorKind::LimitExceeded,
                alloc::format!(
                    "the plug-in's tables would hold {elements} elements, more than the \
                     {MAX_TABLE_ELEMENTS} an instance may hold (interplug's cap on table \
                     memory): declare smaller tables"
                ),
            )));
            return Ok(false);
        }
        if let Some(total) = self.budget.total {
            let table_bytes = elements.saturating_mul(TABLE_ELEMENT_BYTES);
            let others = self.budget.linear_bytes.saturating_add(table_bytes);
            self.memory.fit_within(total.saturating_sub(others));
            let used = others.saturating_add(self.memory.footprint_bytes());
            if used > total {
                self.budget.refuse(Some(Failure::new(
                    ErrorKind::OutOfMemory,
                    alloc::format!(
                        "oom: the plug-in's tables of {elements} elements ({table_bytes} \
                         bytes) do not fit, with its memories, in its memory budget of {} \
                         pages ({total} bytes, memory.max_pages in the manifest): raise \
                         memory.max_pages or declare smaller tables",
                        total / PAGE_BYTES
                    ),
                )));
                return Ok(false);
            }
        }
        let linear = self.budget.linear_bytes;
        self.budget.commit_growth(linear, elements);
        self.memory.set_limit(self.budget.extism_limit());
        Ok(true)
    }

    fn instances(&self) -> usize {
        64
    }

    fn tables(&self) -> usize {
        64
    }

    fn memories(&self) -> usize {
        64
    }
}
