//! Logging: `extism_log_file`, `extism_log_custom` and `extism_log_drain`.
//!
//! One `log::Log` implementation is installed (once, the first time either setup
//! function runs); later calls change where lines go and the level. Plug-in logs
//! (`log_info` ...) and the library's own messages both arrive here. The level is
//! also what plug-ins see through `get_log_level`.

use std::collections::VecDeque;
use std::ffi::c_char;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use log::{LevelFilter, Log, Metadata, Record};

use crate::ffi::{guard, str_arg};
use crate::types::{ExtismLogDrainFunctionType, ExtismSize};

/// The buffer of `extism_log_custom` keeps at most this many bytes; the oldest
/// lines are dropped first, so a chatty plug-in cannot exhaust the host's memory
/// between two drains.
pub const MAX_BUFFERED_BYTES: usize = 16 << 20;

/// Where log lines go.
enum Sink {
    /// Nowhere (before any setup).
    Nowhere,
    Stdout,
    Stderr,
    File(File),
    /// Kept until `extism_log_drain`.
    Buffer {
        lines: VecDeque<String>,
        bytes: usize,
    },
}

static SINK: Mutex<Sink> = Mutex::new(Sink::Nowhere);
/// Whether our logger is the installed one (set on the first setup call).
static INSTALLED: OnceLock<bool> = OnceLock::new();

/// The installed logger.
struct CLogger;
static LOGGER: CLogger = CLogger;

impl Log for CLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format!(
            "{} {:>5} {}: {}\n",
            timestamp(),
            record.level(),
            record.target(),
            record.args()
        );
        let mut sink = SINK.lock().unwrap_or_else(PoisonError::into_inner);
        match &mut *sink {
            Sink::Nowhere => {}
            Sink::Stdout => {
                let _ = std::io::stdout().lock().write_all(line.as_bytes());
            }
            Sink::Stderr => {
                let _ = std::io::stderr().lock().write_all(line.as_bytes());
            }
            Sink::File(file) => {
                let _ = file.write_all(line.as_bytes());
            }
            Sink::Buffer { lines, bytes } => {
                *bytes += line.len();
                lines.push_back(line);
                while *bytes > MAX_BUFFERED_BYTES {
                    match lines.pop_front() {
                        Some(old) => *bytes -= old.len(),
                        None => break,
                    }
                }
            }
        }
    }

    fn flush(&self) {
        let mut sink = SINK.lock().unwrap_or_else(PoisonError::into_inner);
        match &mut *sink {
            Sink::Stdout => {
                let _ = std::io::stdout().flush();
            }
            Sink::Stderr => {
                let _ = std::io::stderr().flush();
            }
            Sink::File(file) => {
                let _ = file.flush();
            }
            Sink::Nowhere | Sink::Buffer { .. } => {}
        }
    }
}

/// The current time as RFC 3339 UTC with microseconds.
fn timestamp() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        since.subsec_micros()
    )
}

/// Year, month, day of a count of days since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Parses a level: `trace`, `debug`, `info`, `warn`, `error` or `off` (any case).
/// Filter strings such as `extism=debug,info` are accepted too: the most verbose
/// level named wins.
pub fn parse_level(text: &str) -> Option<LevelFilter> {
    let mut level: Option<LevelFilter> = None;
    for directive in text.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let name = directive.rsplit('=').next().unwrap_or(directive).trim();
        let parsed = match name.to_ascii_lowercase().as_str() {
            "trace" => LevelFilter::Trace,
            "debug" => LevelFilter::Debug,
            "info" => LevelFilter::Info,
            "warn" | "warning" => LevelFilter::Warn,
            "error" => LevelFilter::Error,
            "off" | "none" => LevelFilter::Off,
            _ => return None,
        };
        level = Some(level.map_or(parsed, |l| l.max(parsed)));
    }
    level
}

/// Installs the logger (once) and directs lines to `sink` at `level`.
fn setup(what: &str, level: *const c_char, sink: impl FnOnce() -> Result<Sink, String>) -> bool {
    let level = if level.is_null() {
        LevelFilter::Error
    } else {
        // SAFETY: the public functions pass their `level` argument, NULL or a
        // NUL-terminated string per their contract.
        match unsafe { str_arg(level, "the log level") }.map(|l| (l, parse_level(l))) {
            Ok((_, Some(level))) => level,
            Ok((text, None)) => {
                eprintln!(
                    "{what}: unknown log level {text:?}: use trace, debug, info, warn, error or off"
                );
                return false;
            }
            Err(message) => {
                eprintln!("{what}: {message}");
                return false;
            }
        }
    };
    let installed = *INSTALLED.get_or_init(|| log::set_logger(&LOGGER).is_ok());
    if !installed {
        eprintln!("{what}: another logger is already installed in this process");
        return false;
    }
    let sink = match sink() {
        Ok(sink) => sink,
        Err(message) => {
            eprintln!("{what}: {message}");
            return false;
        }
    };
    *SINK.lock().unwrap_or_else(PoisonError::into_inner) = sink;
    log::set_max_level(level);
    true
}

/// Sends log lines at `log_level` and above (NULL: `error`) to `filename`:
/// `"stdout"`, `"stderr"` or a file path (appended to, created if needed). False
/// on an unknown level or a file that cannot be opened.
///
/// # Safety
/// `filename` and `log_level` must be NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn extism_log_file(
    filename: *const c_char,
    log_level: *const c_char,
) -> bool {
    guard("extism_log_file", false, || {
        // SAFETY: per this function's contract.
        let target = match unsafe { str_arg(filename, "the log file name") } {
            Ok(name) => name.to_string(),
            Err(message) => {
                eprintln!("extism_log_file: {message}");
                return false;
            }
        };
        setup("extism_log_file", log_level, || match target.as_str() {
            "stdout" => Ok(Sink::Stdout),
            "stderr" => Ok(Sink::Stderr),
            path => OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map(Sink::File)
                .map_err(|e| format!("cannot open log file {path:?}: {e}")),
        })
    })
}

/// Keeps log lines at `log_level` and above (NULL: `error`) in memory until
/// `extism_log_drain` (at most [`MAX_BUFFERED_BYTES`]; the oldest go first).
///
/// # Safety
/// `log_level` must be NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn extism_log_custom(log_level: *const c_char) -> bool {
    guard("extism_log_custom", false, || {
        setup("extism_log_custom", log_level, || {
            Ok(Sink::Buffer {
                lines: VecDeque::new(),
                bytes: 0,
            })
        })
    })
}

/// Hands every buffered log line to `handler(data, size)` (one call per line, in
/// order; `data` is NUL-terminated and ends with a newline) and empties the
/// buffer. NULL `handler`: no-op.
///
/// # Safety
/// `handler` must be NULL or a function of the documented signature.
#[no_mangle]
pub unsafe extern "C" fn extism_log_drain(handler: Option<ExtismLogDrainFunctionType>) {
    guard("extism_log_drain", (), || {
        let Some(handler) = handler else {
            return;
        };
        // Taken out under the lock, handed out without it: a handler may log.
        let lines = {
            let mut sink = SINK.lock().unwrap_or_else(PoisonError::into_inner);
            match &mut *sink {
                Sink::Buffer { lines, bytes } => {
                    *bytes = 0;
                    std::mem::take(lines)
                }
                _ => VecDeque::new(),
            }
        };
        for line in lines {
            let line = crate::ffi::c_string(&line);
            let size = line.as_bytes().len() as ExtismSize;
            // SAFETY: the host's handler with the documented signature; `line` is
            // NUL-terminated and `size` bytes long, alive during the call.
            unsafe { handler(line.as_ptr(), size) };
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        assert_eq!(parse_level("INFO"), Some(LevelFilter::Info));
        assert_eq!(parse_level("off"), Some(LevelFilter::Off));
        assert_eq!(parse_level("extism=debug,error"), Some(LevelFilter::Debug));
        assert_eq!(parse_level("loud"), None);
        assert_eq!(parse_level(""), None);
    }

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(timestamp().len(), "2024-01-01T00:00:00.000000Z".len());
    }
}
