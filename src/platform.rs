//! What differs between a build with the standard library and one without: the one
//! place for the `std` / `no_std` choices of the core (the modules that exist only
//! with `std` are gated in `lib.rs`; how bodies are validated is chosen in
//! `load/validate.rs`, the default clock in `limits/clock.rs`).
//!
//! | need | with `std` | without |
//! |---|---|---|
//! | host-function panics | caught, the call fails with [`ErrorKind::Host`](crate::ErrorKind::Host) | `panic = "abort"` targets have nothing to catch |
//! | user-data lock ([`Lock`]) | `std::sync::Mutex` | a spin lock |
//! | `EXTISM_ENABLE_WASI_OUTPUT` | read from the environment | off |
//! | bulk I/O pass (`INTERPLUG_BULK_IO`) | on unless the variable says `0`/`off` | off (no rewriting layer) |

use crate::Error;

/// The lock that guards user data (`std::sync::Mutex` with `std`).
#[cfg(feature = "std")]
pub type Lock<T> = std::sync::Mutex<T>;
/// The lock that guards user data (a spin lock without `std`).
#[cfg(not(feature = "std"))]
pub type Lock<T> = spin::Mutex<T>;

/// True when `EXTISM_ENABLE_WASI_OUTPUT` asks for plug-in output.
pub(crate) fn wasi_output_from_env() -> bool {
    #[cfg(feature = "std")]
    return std::env::var_os("EXTISM_ENABLE_WASI_OUTPUT").is_some();
    #[cfg(not(feature = "std"))]
    return false;
}

/// Whether this build can run the bulk-I/O pass: it needs the rewriting layer (`std`).
pub(crate) fn bulk_io_supported() -> bool {
    cfg!(feature = "std")
}

/// False when `INTERPLUG_BULK_IO` is `0` or `off` (read once per process) or when
/// [`bulk_io_supported`] is false.
pub(crate) fn bulk_io_from_env() -> bool {
    if !bulk_io_supported() {
        return false;
    }
    #[cfg(feature = "std")]
    {
        static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *ON.get_or_init(|| not_switched_off("INTERPLUG_BULK_IO"))
    }
    #[cfg(not(feature = "std"))]
    {
        false
    }
}

/// False when the environment variable `name` is `0` or `off`.
#[cfg(feature = "std")]
fn not_switched_off(name: &str) -> bool {
    !matches!(std::env::var(name).as_deref(), Ok("0") | Ok("off"))
}

/// False when `INTERPLUG_LAZY_MEMORY` is `0` or `off` (read once per process): plug-ins
/// then keep their linear memories in the engine's heap buffers.
pub(crate) fn lazy_memory_from_env() -> bool {
    #[cfg(feature = "std")]
    {
        static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *ON.get_or_init(|| not_switched_off("INTERPLUG_LAZY_MEMORY"))
    }
    #[cfg(not(feature = "std"))]
    {
        false
    }
}

/// Runs host code, turning a panic into an error of kind
/// [`ErrorKind::Host`](crate::ErrorKind::Host) (with `std`; without it a panic aborts).
pub(crate) fn catch_panic<R>(host_code: impl FnOnce() -> Result<R, Error>) -> Result<R, Error> {
    #[cfg(feature = "std")]
    {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(host_code)).unwrap_or_else(|panic| {
            Err(crate::error::fail!(
                Host,
                "panicked: {}",
                panic_text(&*panic)
            ))
        })
    }
    #[cfg(not(feature = "std"))]
    host_code()
}

/// The text of a panic payload: its `&str` or `String` message, else `(no message)`.
/// Also used by the C library (through `interplug::__private`) for the panics it
/// stops at the C boundary.
#[cfg(feature = "std")]
pub fn panic_text(panic: &(dyn core::any::Any + Send)) -> alloc::string::String {
    panic
        .downcast_ref::<&str>()
        .map(|text| alloc::string::String::from(*text))
        .or_else(|| panic.downcast_ref::<alloc::string::String>().cloned())
        .unwrap_or_else(|| alloc::string::String::from("(no message)"))
}
