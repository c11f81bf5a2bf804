//! A small [`log::Log`] that writes to stderr, one line per record.
//!
//! Plug-in messages (`log_info` and friends) arrive with the target `extism`
//! and the plug-in id in front of the message; the command's own messages have the
//! target `interplug`.

use log::{LevelFilter, Log, Metadata, Record};
use std::io::Write;

/// Writes every record at or above the level to stderr.
struct StderrLogger;

static LOGGER: StderrLogger = StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let mut stderr = std::io::stderr().lock();
        // A closed stderr must not stop the command.
        let _ = writeln!(
            stderr,
            "[{:<5} {}] {}",
            record.level(),
            record.target(),
            record.args()
        );
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

/// Parses a level name: `trace`, `debug`, `info`, `warn`, `error` or `off`
/// (any case).
pub fn parse_level(text: &str) -> Result<LevelFilter, String> {
    text.parse::<LevelFilter>().map_err(|_| {
        format!("unknown log level `{text}`: use one of trace, debug, info, warn, error, off")
    })
}

/// Installs the stderr logger with this level. Plug-ins see the level through
/// `get_log_level`. Calling it again only changes the level.
pub fn init(level: LevelFilter) {
    // Fails only when a logger is already installed, which is fine.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}
