//! The vars of one plug-in, within their caps: `memory.max_var_bytes` and a number of
//! entries.

use crate::{error::bail_kind, Error};
use alloc::{
    collections::BTreeMap,
    string::{String, ToString},
    vec::Vec,
};

/// Default cap on the total size of vars: their keys, values and
/// [`VAR_ENTRY_OVERHEAD`] per entry (`memory.max_var_bytes`).
pub const DEFAULT_MAX_VAR_BYTES: u64 = 1 << 20;

/// Host bytes counted against `max_var_bytes` for each var besides its key and
/// value: the map slot and the two heap buffers that hold them (an upper bound:
/// about 88 bytes measured with a counting allocator in `tests/hostile_kernel.rs`).
pub const VAR_ENTRY_OVERHEAD: u64 = 128;

/// The most vars one plug-in holds, whatever `max_var_bytes` allows.
pub const MAX_VAR_ENTRIES: usize = 1 << 16;

/// The vars of one plug-in: they survive calls, not re-creation.
#[derive(Debug, Default, Clone)]
pub(crate) struct Vars {
    pub(crate) values: BTreeMap<String, Vec<u8>>,
    /// Bytes counted against `max_bytes`: keys, values and the per-entry overhead.
    pub(crate) bytes: u64,
    pub(crate) max_bytes: u64,
}

impl Vars {
    /// What one entry counts against the cap.
    fn entry_bytes(key: &str, value: &[u8]) -> u64 {
        (key.len() + value.len()) as u64 + VAR_ENTRY_OVERHEAD
    }

    /// Sets `key` to `value`, or removes it when `value` is `None`, within the caps.
    /// A refused var leaves the vars as they were.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::LimitExceeded`](crate::ErrorKind::LimitExceeded) when the var would
    /// pass `max_var_bytes` or [`MAX_VAR_ENTRIES`], or vars are disabled.
    pub(crate) fn set(&mut self, key: &str, value: Option<&[u8]>) -> Result<(), Error> {
        let old = self
            .values
            .get(key)
            .map_or(0, |v| Self::entry_bytes(key, v));
        let Some(value) = value else {
            if self.values.remove(key).is_some() {
                self.bytes -= old;
            }
            return Ok(());
        };
        if self.max_bytes == 0 {
            bail_kind!(
                LimitExceeded,
                "vars are disabled for this plug-in (memory.max_var_bytes is 0): raise \
                 memory.max_var_bytes in the manifest"
            );
        }
        if old == 0 && self.values.len() >= MAX_VAR_ENTRIES {
            bail_kind!(
                LimitExceeded,
                "var store full: the plug-in already holds {MAX_VAR_ENTRIES} vars, the most \
                 a plug-in may hold; remove vars (var_set with a null value) before \
                 adding `{key}`"
            );
        }
        let new = Self::entry_bytes(key, value);
        let total = self.bytes - old + new;
        if total > self.max_bytes {
            bail_kind!(
                LimitExceeded,
                "var store full: setting `{key}` would use {total} bytes (keys, values \
                 and {VAR_ENTRY_OVERHEAD} bytes per var), more than \
                 memory.max_var_bytes = {}; raise it in the manifest or store fewer vars",
                self.max_bytes
            );
        }
        self.values.insert(key.to_string(), value.to_vec());
        self.bytes = total;
        Ok(())
    }
}
