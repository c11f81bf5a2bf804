//! What a finding is ([`FindingKind`], [`Finding`]), when two are the same problem,
//! and how one is saved: the input and a report with the command that replays it.

use super::config::FuzzConfig;
use interplug::Error;
use std::path::{Path, PathBuf};

/// What a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FindingKind {
    /// The plug-in trapped (panic, `unreachable`, out-of-bounds access, stack
    /// overflow, a failing host function, ...).
    Trap,
    /// The call ran longer than the timeout.
    Timeout,
    /// The call used up its fuel.
    OutOfFuel,
    /// The call went over the memory budget.
    Oom,
    /// The plug-in returned an error or a non-zero code (only with `fail_on_error`).
    Error,
    /// The output broke the output check.
    Check,
    /// Two runs of the same input on fresh instances behaved differently.
    NonDeterministic,
}

impl FindingKind {
    /// A short name, used in file names: `trap`, `timeout`, `fuel`, `oom`, `error`,
    /// `check`, `nondeterminism`.
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::Trap => "trap",
            FindingKind::Timeout => "timeout",
            FindingKind::OutOfFuel => "fuel",
            FindingKind::Oom => "oom",
            FindingKind::Error => "error",
            FindingKind::Check => "check",
            FindingKind::NonDeterministic => "nondeterminism",
        }
    }
}

impl std::fmt::Display for FindingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One distinct problem the fuzzer found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What kind of problem.
    pub kind: FindingKind,
    /// The error message or the check's complaint.
    pub message: String,
    /// The (minimised) input that shows it.
    pub input: Vec<u8>,
    /// Length of the input as first found.
    pub original_len: usize,
    /// Whether it reproduced on a fresh instance (a finding that does not depends
    /// on state left by earlier calls and is saved unminimised).
    pub reproducible: bool,
    /// Where the input was saved.
    pub path: Option<PathBuf>,
    /// Where a trap happened (coverage feedback only): the block that ran last as
    /// `function+0xoffset` (named from the name section when there is one), then
    /// the call sites below it.
    pub location: Option<String>,
}

/// What identifies "the same problem" among findings.
pub(super) fn dedup_key(kind: FindingKind, message: &str) -> String {
    let relevant = match kind {
        // Error messages often quote the input: keep the part before it.
        // One non-determinism finding is enough: the message holds the outputs.
        FindingKind::NonDeterministic => "",
        FindingKind::Error | FindingKind::Check => message
            .split([':', '"', '\'', '`'])
            .next()
            .unwrap_or(message),
        _ => message,
    };
    let mut key = String::new();
    let mut last_digit = false;
    for c in relevant.chars().take(120) {
        if c.is_ascii_digit() {
            if !last_digit {
                key.push('#');
            }
            last_digit = true;
        } else {
            key.push(c);
            last_digit = false;
        }
    }
    key
}

/// FNV-1a, for stable file names.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Saves a finding as `<kind>-<hash>.bin` (the input) and `<kind>-<hash>.txt` (what
/// happened and how to replay it). Returns the input's path.
pub(super) fn save(dir: &Path, config: &FuzzConfig, finding: &Finding) -> Result<PathBuf, Error> {
    let function = &config.function;
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::msg(format!(
            "cannot create the findings directory `{}`: {e}",
            dir.display()
        ))
    })?;
    let stem = format!("{}-{:016x}", finding.kind, fnv1a(&finding.input));
    let input_path = dir.join(format!("{stem}.bin"));
    let write = |path: &Path, bytes: &[u8]| {
        std::fs::write(path, bytes)
            .map_err(|e| Error::msg(format!("cannot write `{}`: {e}", path.display())))
    };
    write(&input_path, &finding.input)?;
    let location = finding
        .location
        .as_ref()
        .map(|l| format!("location: {l}\n"))
        .unwrap_or_default();
    let report = format!(
        "kind: {}\nfunction: {function}\nmessage: {}\n{location}input: {} bytes (found with {} bytes{})\n\
         input (escaped): {}\nreplay: interplug call {} {function} --input-file {}\n",
        finding.kind,
        finding.message,
        finding.input.len(),
        finding.original_len,
        if finding.reproducible {
            ""
        } else {
            "; did not reproduce on a fresh instance"
        },
        escape(&finding.input),
        config.plugin_label,
        input_path.display()
    );
    write(&dir.join(format!("{stem}.txt")), report.as_bytes())?;
    Ok(input_path)
}

/// Bytes as printable ASCII with escapes.
pub fn escape(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_keys_ignore_quoted_input_and_numbers() {
        assert_eq!(
            dedup_key(FindingKind::Error, "invalid number \"abc\": bad"),
            dedup_key(FindingKind::Error, "invalid number \"xyz\": bad")
        );
        assert_eq!(
            dedup_key(FindingKind::Trap, "trap at 123"),
            dedup_key(FindingKind::Trap, "trap at 456")
        );
        assert_ne!(
            dedup_key(FindingKind::Trap, "unreachable"),
            dedup_key(FindingKind::Trap, "out of bounds")
        );
    }
}
