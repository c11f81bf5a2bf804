//! Exit codes of the `interplug` command and the error type that carries one.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the plug-in failed: a call returned an error or trapped (`call`), an assertion or the test plug-in failed (`test`), the fuzzer found something (`fuzz`) |
//! | 2 | usage: bad arguments or options |
//! | 3 | the plug-in could not be loaded: file, manifest, hash, compile, link or instantiate error |
//! | 4 | an I/O error of the command itself (writing stdout, the findings directory, ...) |

use std::fmt;

/// Success.
pub const OK: u8 = 0;
/// The plug-in failed (call error or trap, failed assertion, fuzz finding).
pub const PLUGIN_FAILED: u8 = 1;
/// Bad arguments or options.
pub const USAGE: u8 = 2;
/// The plug-in could not be loaded, compiled, linked or instantiated.
pub const LOAD_FAILED: u8 = 3;
/// An I/O error of the command itself.
pub const IO_FAILED: u8 = 4;

/// An error with the exit code the command should end with.
#[derive(Debug)]
pub struct CliError {
    /// One of the constants of this module.
    pub code: u8,
    /// What went wrong and, where possible, what to do about it.
    pub message: String,
}

impl CliError {
    /// An error with this exit code.
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        CliError {
            code,
            message: message.into(),
        }
    }

    /// A usage error (exit code 2).
    pub fn usage(message: impl Into<String>) -> Self {
        CliError::new(USAGE, message)
    }

    /// A load error (exit code 3).
    pub fn load(message: impl Into<String>) -> Self {
        CliError::new(LOAD_FAILED, message)
    }

    /// A plug-in failure (exit code 1).
    pub fn plugin(message: impl Into<String>) -> Self {
        CliError::new(PLUGIN_FAILED, message)
    }

    /// An I/O error of the command (exit code 4).
    pub fn io(message: impl Into<String>) -> Self {
        CliError::new(IO_FAILED, message)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}
