//! What one call did: running an input on an instance (and, with coverage, reading
//! what it recorded), classifying a failure by its error's kind, and comparing and
//! describing outcomes.

use super::coverage::Coverage;
use super::findings::FindingKind;
use interplug::rewrite::coverage::MEMORY_EXPORT;
use interplug::{Error, ErrorExt, ErrorKind, Plugin};

/// What one call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It succeeded with this output.
    Ok(Vec<u8>),
    /// It failed.
    Failed {
        /// The class of failure ([`FindingKind::Check`] and
        /// [`FindingKind::NonDeterministic`] never appear here).
        kind: FindingKind,
        /// The error message.
        message: String,
    },
}

/// An instantiation failure as an outcome.
pub(super) fn instantiate_failure(error: Error) -> Outcome {
    Outcome::Failed {
        kind: classify(&error, false),
        message: format!("cannot instantiate the plug-in: {error:#}"),
    }
}

/// Calls the function and classifies the result; with coverage, reads what the
/// call recorded into the coverage's trace.
pub(super) fn run_call(
    plugin: &mut Plugin,
    function: &str,
    input: &[u8],
    coverage: Option<&mut Coverage>,
) -> (Outcome, Option<u64>) {
    let result = plugin
        .call::<&[u8], &[u8]>(function, input)
        .map(<[u8]>::to_vec);
    if let Some(coverage) = coverage {
        coverage.read_trace(plugin.exported_memory(MEMORY_EXPORT));
    }
    match result {
        Ok(output) => (Outcome::Ok(output), plugin.fuel_consumed()),
        Err(e) => {
            let plugin_error = plugin.current_plugin().error_message().is_some();
            (
                Outcome::Failed {
                    kind: classify(&e, plugin_error),
                    message: format!("{e:#}"),
                },
                None,
            )
        }
    }
}

/// The kind of a failed call, from the error's kind; `plugin_error` when the
/// plug-in set an error itself.
fn classify(error: &Error, plugin_error: bool) -> FindingKind {
    match error.kind() {
        ErrorKind::Timeout | ErrorKind::Cancelled => FindingKind::Timeout,
        ErrorKind::OutOfFuel => FindingKind::OutOfFuel,
        ErrorKind::OutOfMemory => FindingKind::Oom,
        ErrorKind::Plugin { .. } | ErrorKind::Exit { .. } => FindingKind::Error,
        _ if plugin_error => FindingKind::Error,
        _ => FindingKind::Trap,
    }
}

/// A coarse description of behaviour: outcome class, output size class, fuel class.
pub(super) fn signature(outcome: &Outcome, fuel: Option<u64>) -> (u8, u32, u32) {
    let (class, len) = match outcome {
        Outcome::Ok(output) => (0u8, output.len()),
        Outcome::Failed { kind, .. } => (1 + *kind as u8, 0),
    };
    (class, log_bucket(len as u64), fuel.map_or(0, log_bucket))
}

/// Quarter-octave buckets: exact for small numbers, coarse for large ones.
fn log_bucket(n: u64) -> u32 {
    if n < 16 {
        return n as u32;
    }
    let msb = 63 - n.leading_zeros();
    let next_two = ((n >> (msb - 2)) & 0b11) as u32;
    16 + msb * 4 + next_two
}

/// True when two outcomes of the same input differ in a way that matters
/// (timeouts depend on the machine and are ignored).
pub(super) fn differs(a: &Outcome, b: &Outcome) -> bool {
    let timing = |o: &Outcome| {
        matches!(
            o,
            Outcome::Failed {
                kind: FindingKind::Timeout,
                ..
            }
        )
    };
    if timing(a) || timing(b) {
        return false;
    }
    a != b
}

/// A short description of an outcome.
pub(super) fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Ok(output) => {
            let shown: String = String::from_utf8_lossy(output).chars().take(60).collect();
            format!("output {shown:?} ({} bytes)", output.len())
        }
        Outcome::Failed { kind, message } => format!("{kind}: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_the_error_kind() {
        let error = |kind| Error::new(interplug::Failure::new(kind, "any text"));
        assert_eq!(
            classify(&error(ErrorKind::Timeout), false),
            FindingKind::Timeout
        );
        assert_eq!(
            classify(&error(ErrorKind::OutOfFuel), false),
            FindingKind::OutOfFuel
        );
        assert_eq!(
            classify(&error(ErrorKind::OutOfMemory), false),
            FindingKind::Oom
        );
        assert_eq!(
            classify(&error(ErrorKind::Plugin { code: 3 }), false),
            FindingKind::Error
        );
        assert_eq!(classify(&error(ErrorKind::Trap), true), FindingKind::Error);
        assert_eq!(classify(&error(ErrorKind::Trap), false), FindingKind::Trap);
        // The message does not matter.
        assert_eq!(
            classify(&Error::msg("timeout: looks like one"), false),
            FindingKind::Trap
        );
    }

    #[test]
    fn buckets_grow_slowly() {
        assert_eq!(log_bucket(3), 3);
        assert!(log_bucket(1000) < log_bucket(2000));
        assert_eq!(log_bucket(1_000_000), log_bucket(1_000_001));
    }
}
