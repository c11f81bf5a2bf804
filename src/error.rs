//! Error kinds: what went wrong, as a value a program can match.
//!
//! Every error interplug returns is an [`Error`] (an `anyhow::Error`, as in
//! the `extism` crate) that carries a [`Failure`]: a [`ErrorKind`] and the message a
//! person reads. Match on the kind with [`ErrorExt::kind`] (or
//! `error.downcast_ref::<Failure>()`); never parse the message. When another error
//! caused it (an I/O error, a wasm validation error, a host function's error), that
//! error is its [`source`](core::error::Error::source), reachable through
//! `error.chain()`; `format!("{error:#}")` prints the message and then its causes.
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

use alloc::{
    string::{String, ToString},
    sync::Arc,
};
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
    /// Host code failed: a host function returned an error without a kind (its
    /// error is then the failure's [`source`](core::error::Error::source)) or
    /// panicked, a WASI function panicked, or a lock was poisoned by a panic. Errors
    /// a caller or a plug-in causes always have one of the other kinds.
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

/// The error that caused a [`Failure`], shared so that the failure stays `Clone`. It
/// is kept as an [`Error`] (any error converts into one) because the
/// object inside an `anyhow::Error` can still be downcast to its own type.
type Cause = Arc<crate::Error>;

/// An error with a kind: what every interplug error carries inside the
/// [`Error`] it returns.
///
/// Its `Display` is the message alone. When another error caused it (an I/O error, a
/// wasm validation error, a host function's own error), that error is its
/// [`source`](core::error::Error::source): `format!("{error:#}")` (anyhow's chain,
/// what the C API and the CLI show) prints the message, then each cause after `": "`.
///
/// Two failures are equal when their kinds, their messages and the texts of their
/// causes are.
#[derive(Debug, Clone)]
pub struct Failure {
    kind: ErrorKind,
    message: String,
    source: Option<Cause>,
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
            source: None,
        }
    }

    /// A failure of `kind` with `message`, caused by `source` (any error, an
    /// [`Error`] included), which [`source`](core::error::Error::source)
    /// then returns (for an [`Error`], the error inside it, which
    /// downcasts to its own type). The message says what failed; the source's text is
    /// not repeated in it.
    ///
    /// ```
    /// use interplug::{Error, ErrorExt, ErrorKind, Failure};
    /// let io = std::io::Error::new(std::io::ErrorKind::Other, "disk on fire");
    /// let error = Error::new(Failure::with_source(ErrorKind::Io, "cannot save the report", io));
    /// assert_eq!(error.kind(), ErrorKind::Io);
    /// assert_eq!(error.to_string(), "cannot save the report");
    /// assert_eq!(format!("{error:#}"), "cannot save the report: disk on fire");
    /// assert!(error.chain().any(|cause| cause.is::<std::io::Error>()));
    /// ```
    pub fn with_source(
        kind: ErrorKind,
        message: impl Into<String>,
        source: impl Into<crate::Error>,
    ) -> Self {
        Failure {
            kind,
            message: message.into(),
            source: Some(Arc::new(source.into())),
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, for a person (without the text of its causes).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl core::error::Error for Failure {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        // An `anyhow::Error` dereferences to the error object inside it.
        self.source
            .as_deref()
            .map(|source| &**source as &(dyn core::error::Error + 'static))
    }
}

impl PartialEq for Failure {
    fn eq(&self, other: &Self) -> bool {
        use core::error::Error as _;
        if self.kind != other.kind || self.message != other.message {
            return false;
        }
        // The causes, level by level, compared by their texts.
        let (mut mine, mut theirs) = (self.source(), other.source());
        loop {
            match (mine, theirs) {
                (None, None) => return true,
                (Some(a), Some(b)) if a.to_string() == b.to_string() => {
                    (mine, theirs) = (a.source(), b.source());
                }
                _ => return false,
            }
        }
    }
}

impl Eq for Failure {}

/// Lets a [`Failure`] travel through the engine from a host import to the run loop.
impl wasmi_core::HostError for Failure {}

/// Turns an error made in host code (a kernel import, WASI, HTTP, a host function) into
/// an engine error that keeps its kind and causes; `default` is the kind of an error
/// without a [`Failure`].
///
/// A [`Failure`] passes as it is (with its causes). Any other error (one a host
/// function made and nobody wrapped) is flattened into the message of a new failure:
/// wrap it with [`with_context`] first to keep it as a cause.
pub(crate) fn to_engine(error: &crate::Error, default: ErrorKind) -> wasmi::Error {
    let top: &(dyn core::error::Error + Send + Sync + 'static) = error.as_ref();
    match top.downcast_ref::<Failure>() {
        Some(failure) => wasmi::Error::host(failure.clone()),
        None => {
            let kind = error.failure().map_or(default, Failure::kind);
            wasmi::Error::host(Failure::new(kind, alloc::format!("{error:#}")))
        }
    }
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

/// Reads the kind of an [`Error`].
pub trait ErrorExt {
    /// The kind of this error: that of the [`Failure`] inside it, [`ErrorKind::Host`]
    /// for an error without one (every error interplug makes has one: an error
    /// without is the host's own, e.g. one a host function made).
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

/// A new [`Error`] of `kind` with `message`.
pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> crate::Error {
    anyhow::Error::new(Failure::new(kind, message))
}

/// A new [`Error`] of `kind` with `message`, caused by `cause`.
pub(crate) fn caused(
    kind: ErrorKind,
    message: impl Into<String>,
    cause: impl Into<crate::Error>,
) -> crate::Error {
    anyhow::Error::new(Failure::with_source(kind, message, cause))
}

/// `error` behind `text`: a failure of `error`'s kind with `text` as its message and
/// `error` as its cause (so `{:#}` prints `text: ` and then `error`'s text).
pub(crate) fn with_context(error: crate::Error, text: &str) -> crate::Error {
    caused(error.kind(), text, error)
}

/// The kind of an I/O error: `NotFound` and `PermissionDenied` as the operating
/// system says, `Io` for the others.
#[cfg(feature = "std")]
pub(crate) fn io_kind(error: &std::io::Error) -> ErrorKind {
    match error.kind() {
        std::io::ErrorKind::NotFound => ErrorKind::NotFound,
        std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
        _ => ErrorKind::Io,
    }
}

/// Builds an [`Error`] of a kind from a format string:
/// `fail!(Io, "cannot read {path}")`; with a cause, which becomes its source:
/// `fail!(Invalid from error, "invalid wasm module `{name}`")`.
macro_rules! fail {
    ($kind:ident from $cause:expr, $($arg:tt)*) => {
        $crate::error::caused(
            $crate::error::ErrorKind::$kind,
            alloc::format!($($arg)*),
            $cause,
        )
    };
    ($kind:ident, $($arg:tt)*) => {
        $crate::error::new($crate::error::ErrorKind::$kind, alloc::format!($($arg)*))
    };
}
#[allow(unused_imports)]
pub(crate) use fail;

/// Returns early with an error of a kind: `bail_kind!(Invalid, "bad {thing}")` (or
/// `bail_kind!(Invalid from cause, "...")`, as [`fail!`]).
#[allow(unused_macros)]
macro_rules! bail_kind {
    ($($arg:tt)*) => {
        return Err($crate::error::fail!($($arg)*))
    };
}
#[allow(unused_imports)]
pub(crate) use bail_kind;

/// The errors of interplug's exported macros, which expand in the user's crate and
/// reach these through `$crate::__private`. Not part of the API.
#[doc(hidden)]
pub mod for_macros {
    use super::{caused, new, ErrorExt, ErrorKind};
    use alloc::{format, string::String};

    /// `host_fn!`: the plug-in called the function with fewer arguments than it has.
    pub fn missing_argument(function: &str, argument: &str) -> crate::Error {
        new(
            ErrorKind::Invalid,
            format!(
                "host function `{function}` was called without its argument `{argument}`: \
                 check the import's signature"
            ),
        )
    }

    /// `typed_plugin!`: the plug-in has no function `name`.
    pub fn missing_function(name: &str) -> crate::Error {
        new(
            ErrorKind::NotFound,
            format!(
                "the plug-in has no function `{name}` (an export of type () -> i32 or () -> ())"
            ),
        )
    }

    /// `encoding!`: the serialise function of encoding `name` failed. An error that
    /// already has a kind keeps it; any other is the cause of an `Invalid` one.
    pub fn encode_error<E>(name: &str, error: E) -> crate::Error
    where
        anyhow::Error: From<E>,
    {
        invalid_unless_kinded(error, || format!("cannot encode the value as `{name}`"))
    }

    /// `encoding!`: the deserialise function of encoding `name` failed, as
    /// [`encode_error`].
    pub fn decode_error<E>(name: &str, error: E) -> crate::Error
    where
        anyhow::Error: From<E>,
    {
        invalid_unless_kinded(error, || {
            format!("the bytes are not a valid `{name}` value")
        })
    }

    /// `error` as it is when it has a kind, else the cause of an `Invalid` error saying
    /// `message()`.
    fn invalid_unless_kinded<E>(error: E, message: impl FnOnce() -> String) -> crate::Error
    where
        anyhow::Error: From<E>,
    {
        let error = anyhow::Error::from(error);
        if error.failure().is_some() {
            return error;
        }
        caused(ErrorKind::Invalid, message(), error)
    }
}
