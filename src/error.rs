//! Error kinds: what went wrong, as a value a program can match.
//!
//! Every error interplug returns is an [`Error`](crate::Error) (an `anyhow::Error`, as in
//! the `extism` crate) that carries a [`Failure`]: a [`ErrorKind`] and the message a
//! person reads. Match on the kind with [`ErrorExt::kind`] (or
//! `error.downcast_ref::<Failure>()`); never parse the message.
//!
//! ```
//! use interplug::{ErrorExt, ErrorKind, Manifest, Plugin, Wasm};
//!
//! let wat = r#"(module (func (export "spin") (result i32) (loop br 0) i32.const 0))"#;
//! let manifest = Manifest::new([Wasm::data(wat)]).with_timeout(std::time::Duration::from_millis(20));
//! let mut plugin = Plugin::new(&manifest, [], false)?;
//! let error = plugin.call::<&str, &[u8]>("spin", "").unwrap_err();
//! assert_eq!(error.kind(), ErrorKind::Timeout);
//! # Ok::<(), interplug::Error>(())
//! ```

use alloc::string::String;
use core::fmt;

/// The error type of every fallible operation: an `anyhow::Error`, as in the `extism`
/// crate, carrying a [`Failure`] (its kind and message) when interplug made it.
pub type Error = anyhow::Error;

/// What kind of failure an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The call ran past the manifest's `timeout_ms`.
    Timeout,
    /// The call was stopped through a [`CancelHandle`](crate::CancelHandle).
    Cancelled,
    /// The call used up the fuel limit.
    OutOfFuel,
    /// The plug-in went over its memory budget (`memory.max_pages`), or the host could
    /// not allocate for it (the `oom` of the official runtime).
    OutOfMemory,
    /// The plug-in reported an error itself (`error_set`, a non-zero return code):
    /// `code` is the return code the C API reports (-1 when the plug-in returned 0).
    Plugin {
        /// The plug-in's return code.
        code: i32,
    },
    /// The plug-in trapped (unreachable, out-of-bounds access, division by zero...).
    Trap,
    /// The plug-in called WASI `proc_exit` with a non-zero code.
    Exit {
        /// The exit code.
        code: i32,
    },
    /// No such plug-in function, module, host function or import.
    NotFound,
    /// The plug-in asked for something its manifest does not allow (a host, a path).
    PermissionDenied,
    /// The plug-in went over a per-plug-in cap on a host resource (open files, var
    /// entries, tables, module size, HTTP response size).
    LimitExceeded,
    /// A module, manifest, argument or plug-in request is malformed.
    Invalid,
    /// Reading a module, a file or a URL failed.
    Io,
    /// A host function returned an error or panicked.
    Host,
}

impl ErrorKind {
    /// A short lower-case name for the kind (`"timeout"`, `"out of fuel"`...).
    ///
    /// ```
    /// assert_eq!(interplug::ErrorKind::OutOfFuel.name(), "out of fuel");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::OutOfFuel => "out of fuel",
            ErrorKind::OutOfMemory => "out of memory",
            ErrorKind::Plugin { .. } => "plug-in error",
            ErrorKind::Trap => "trap",
            ErrorKind::Exit { .. } => "exit",
            ErrorKind::NotFound => "not found",
            ErrorKind::PermissionDenied => "permission denied",
            ErrorKind::LimitExceeded => "limit exceeded",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Io => "i/o",
            ErrorKind::Host => "host function",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An error with a kind: what every interplug error carries inside the
/// [`Error`](crate::Error) it returns. Its `Display` is the message alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    kind: ErrorKind,
    message: String,
}

impl Failure {
    /// A failure of `kind` with `message`.
    ///
    /// ```
    /// use interplug::{ErrorKind, Failure};
    /// let failure = Failure::new(ErrorKind::Io, "cannot read plugin.wasm");
    /// assert_eq!(failure.kind(), ErrorKind::Io);
    /// ```
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, for a person.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl core::error::Error for Failure {}

/// Lets a [`Failure`] travel through the engine from a host import to the run loop.
impl wasmi_core::HostError for Failure {}

/// Turns an error made in host code (a kernel import, WASI, HTTP, a host function) into
/// an engine error that keeps its kind; `default` is the kind of an error without one.
pub(crate) fn to_engine(error: &crate::Error, default: ErrorKind) -> wasmi::Error {
    let kind = error.failure().map_or(default, Failure::kind);
    wasmi::Error::host(Failure::new(kind, alloc::format!("{error:#}")))
}

/// A new failure of `kind` with `message`, in the engine's form: host code returns it
/// to end the call, and the run loop reports it with that kind.
pub(crate) fn trap(kind: ErrorKind, message: impl Into<String>) -> wasmi::Error {
    wasmi::Error::host(Failure::new(kind, message))
}

/// The [`Failure`] an engine error carries when host code made it.
pub(crate) fn from_engine(error: &wasmi::Error) -> Option<&Failure> {
    error.downcast_ref::<Failure>()
}

/// Reads the kind of an [`Error`](crate::Error).
pub trait ErrorExt {
    /// The kind of this error: that of the [`Failure`] inside it, [`ErrorKind::Host`]
    /// for an error without one (one a host function made).
    ///
    /// ```
    /// use interplug::{ErrorExt, ErrorKind};
    /// let error = interplug::Error::msg("made by a host function");
    /// assert_eq!(error.kind(), ErrorKind::Host);
    /// ```
    fn kind(&self) -> ErrorKind;

    /// The [`Failure`] inside this error, if any.
    fn failure(&self) -> Option<&Failure>;
}

impl ErrorExt for crate::Error {
    fn kind(&self) -> ErrorKind {
        self.failure().map_or(ErrorKind::Host, Failure::kind)
    }

    fn failure(&self) -> Option<&Failure> {
        self.downcast_ref::<Failure>()
    }
}

/// A new [`Error`](crate::Error) of `kind` with `message`.
pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> crate::Error {
    anyhow::Error::new(Failure::new(kind, message))
}

/// `error` with `text` in front of its message, keeping its kind.
pub(crate) fn with_context(error: &crate::Error, text: &str) -> crate::Error {
    new(error.kind(), alloc::format!("{text}: {error:#}"))
}

/// Builds an [`Error`](crate::Error) of a kind from a format string:
/// `fail!(Io, "cannot read {path}")`.
macro_rules! fail {
    ($kind:ident, $($arg:tt)*) => {
        $crate::error::new($crate::error::ErrorKind::$kind, alloc::format!($($arg)*))
    };
}
#[allow(unused_imports)]
pub(crate) use fail;

/// Returns early with an error of a kind: `bail_kind!(Invalid, "bad {thing}")`.
#[allow(unused_macros)]
macro_rules! bail_kind {
    ($kind:ident, $($arg:tt)*) => {
        return Err($crate::error::fail!($kind, $($arg)*))
    };
}
#[allow(unused_imports)]
pub(crate) use bail_kind;
