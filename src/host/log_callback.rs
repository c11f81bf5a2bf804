//! `set_log_callback`: plug-in log lines (and interplug's own) handed to a closure,
//! as the `extism` crate's function of that name does.
//!
//! interplug logs through the `log` facade (plug-in logs under the target `extism`).
//! [`set_log_callback`] installs a `log` logger that formats each record as one line
//! and passes it to the closure. The closure need not be `Send`: it is kept by the
//! thread that installed it, and records logged on that thread reach it (a plug-in
//! logs on the thread that calls it). Records logged on other threads are dropped.

use crate::Error;
use std::{cell::RefCell, format, str::FromStr, string::String, vec::Vec};

type Callback = Box<dyn Fn(&str)>;

std::thread_local! {
    /// The callback of this thread, if it installed one.
    static CALLBACK: RefCell<Option<Callback>> = const { RefCell::new(None) };
}

/// One `target=level` rule of the filter; no target: every target.
struct Directive {
    target: Option<String>,
    level: log::LevelFilter,
}

/// The logger installed in the `log` facade.
struct CallbackLogger {
    directives: Vec<Directive>,
}

impl CallbackLogger {
    /// The most verbose level a record of `target` may have.
    fn level_for(&self, target: &str) -> log::LevelFilter {
        let mut best: Option<(&Directive, usize)> = None;
        for directive in &self.directives {
            let length = match &directive.target {
                Some(prefix) if target.starts_with(prefix.as_str()) => prefix.len(),
                Some(_) => continue,
                None => 0,
            };
            if best.is_none_or(|(_, best_length)| length >= best_length) {
                best = Some((directive, length));
            }
        }
        best.map_or(log::LevelFilter::Error, |(d, _)| d.level)
    }
}

impl log::Log for CallbackLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= self.level_for(metadata.target())
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format!(
            "{} {}: {}\n",
            record.level(),
            record.target(),
            record.args()
        );
        // A callback that logs would find the cell borrowed: its record is dropped.
        let _ = CALLBACK.try_with(|cell| {
            if let Ok(callback) = cell.try_borrow() {
                if let Some(callback) = callback.as_ref() {
                    callback(&line);
                }
            }
        });
    }

    fn flush(&self) {}
}

/// Parses a filter: a level (`"info"`: plug-in logs, target `extism`, up to info;
/// other targets errors only) or `target=level` rules separated by commas, a bare
/// level applying to every target (`"debug"` after a comma, `"extism=trace,warn"`).
fn parse_filter(filter: &str) -> Vec<Directive> {
    let filter = filter.trim();
    if let Ok(level) = log::LevelFilter::from_str(filter) {
        return Vec::from([
            Directive {
                target: None,
                level: log::LevelFilter::Error,
            },
            Directive {
                target: Some(String::from("extism")),
                level,
            },
        ]);
    }
    let mut directives = Vec::from([Directive {
        target: None,
        level: log::LevelFilter::Error,
    }]);
    for rule in filter.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        match rule.split_once('=') {
            Some((target, level)) => {
                if let Ok(level) = log::LevelFilter::from_str(level.trim()) {
                    directives.push(Directive {
                        target: Some(String::from(target.trim())),
                        level,
                    });
                }
            }
            None => match log::LevelFilter::from_str(rule) {
                Ok(level) => directives.push(Directive {
                    target: None,
                    level,
                }),
                Err(_) => directives.push(Directive {
                    target: Some(String::from(rule)),
                    level: log::LevelFilter::Trace,
                }),
            },
        }
    }
    directives
}

/// Sends log lines to `func`, filtered by `filter`: a level (`"trace"`, `"debug"`,
/// `"info"`, `"warn"`, `"error"`) for plug-in logs, or `target=level` rules separated
/// by commas. Each call gives one line (`LEVEL target: message`, ending in a newline).
///
/// `func` is kept by the calling thread and receives the records logged on it (plug-in
/// logs arrive on the thread that calls the plug-in); see the module docs.
///
/// # Errors
///
/// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when another logger is already
/// installed in the `log` facade (by an earlier call or by the host, e.g.
/// `env_logger`); as in the `extism` crate, only the first one counts.
///
/// # Examples
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// let lines = Rc::new(RefCell::new(Vec::new()));
/// let sink = lines.clone();
/// interplug::set_log_callback(move |line: &str| sink.borrow_mut().push(line.to_string()), "info")?;
/// log::info!(target: "extism", "hello from a plug-in");
/// assert_eq!(lines.borrow().as_slice(), ["INFO extism: hello from a plug-in\n"]);
/// # Ok::<(), interplug::Error>(())
/// ```
pub fn set_log_callback<F: 'static + Clone + Fn(&str)>(
    func: F,
    filter: impl AsRef<str>,
) -> Result<(), Error> {
    let directives = parse_filter(filter.as_ref());
    let max_level = directives
        .iter()
        .map(|d| d.level)
        .max()
        .unwrap_or(log::LevelFilter::Error);
    log::set_boxed_logger(Box::new(CallbackLogger { directives })).map_err(|_| {
        crate::error::fail!(
            Invalid,
            "a logger is already installed in the `log` facade; set_log_callback works once, before any other logger"
        )
    })?;
    log::set_max_level(max_level);
    CALLBACK.with(|cell| *cell.borrow_mut() = Some(Box::new(func)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_pick_the_most_specific_rule() {
        let logger = CallbackLogger {
            directives: parse_filter("debug"),
        };
        assert_eq!(logger.level_for("extism"), log::LevelFilter::Debug);
        assert_eq!(logger.level_for("wasmi"), log::LevelFilter::Error);
        let logger = CallbackLogger {
            directives: parse_filter("warn, extism=trace"),
        };
        assert_eq!(logger.level_for("extism"), log::LevelFilter::Trace);
        assert_eq!(logger.level_for("other"), log::LevelFilter::Warn);
    }
}
