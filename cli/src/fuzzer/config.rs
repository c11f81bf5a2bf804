//! The settings of a fuzzing run: [`FuzzConfig`], the [`Feedback`] that decides
//! which inputs are kept, and the [`OutputCheck`] successful outputs must pass.

use std::path::PathBuf;
use std::time::Duration;

/// What makes an input interesting enough to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    /// Block coverage and comparison progress of an instrumented plug-in (see
    /// [`Fuzzer::with_coverage`](super::Fuzzer::with_coverage)); a fuzzer made with
    /// [`Fuzzer::new`](super::Fuzzer::new) uses fuel.
    Coverage,
    /// The fuel a call used, in coarse classes, with outcome and output size.
    Fuel,
    /// Outcome and output size only.
    Outcome,
}

/// A check every successful output must pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputCheck {
    /// The output is valid JSON.
    Json,
    /// The output is valid UTF-8.
    Utf8,
}

impl OutputCheck {
    /// Why `output` fails the check, if it does.
    pub fn violation(self, output: &[u8]) -> Option<String> {
        match self {
            OutputCheck::Json => serde_json::from_slice::<serde_json::Value>(output)
                .err()
                .map(|e| format!("output is not valid JSON: {e}")),
            OutputCheck::Utf8 => std::str::from_utf8(output)
                .err()
                .map(|e| format!("output is not valid UTF-8: {e}")),
        }
    }
}

/// Settings of a fuzzing run.
#[derive(Debug, Clone)]
pub struct FuzzConfig {
    /// The plug-in function to fuzz.
    pub function: String,
    /// Starting inputs.
    pub seeds: Vec<Vec<u8>>,
    /// Stop after this many executions of generated inputs (seeds included).
    pub runs: Option<u64>,
    /// Stop after this much time.
    pub duration: Option<Duration>,
    /// PRNG seed: the same seed, plug-in and settings give the same run.
    pub seed: u64,
    /// Longest input generated.
    pub max_len: usize,
    /// Report calls that fail with an error or non-zero return code.
    pub fail_on_error: bool,
    /// A check of successful outputs.
    pub check: Option<OutputCheck>,
    /// Run every input twice on fresh instances and report differences.
    pub check_determinism: bool,
    /// A fresh instance for every input (default: one instance, rebuilt after a trap).
    pub fresh_instance: bool,
    /// Shrink findings before saving them.
    pub minimize: bool,
    /// Most executions spent on shrinking one finding.
    pub minimize_budget: usize,
    /// Directory findings are saved to (`None`: not saved).
    pub out_dir: Option<PathBuf>,
    /// How to name the plug-in in the replay command written next to a finding.
    pub plugin_label: String,
    /// What makes an input interesting (default: coverage, when the fuzzer has a
    /// coverage map, else fuel). Fuel use depends only on what the plug-in executes
    /// (compiling a function on its first call costs none), and so do the coverage
    /// counters: a run repeats exactly from its seed, also twice in one process.
    pub feedback: Feedback,
    /// Stop at the first finding.
    pub stop_on_finding: bool,
}

impl FuzzConfig {
    /// Defaults for fuzzing `function`: 10 000 runs, seed 0, inputs up to 4 KiB,
    /// minimisation on, nothing saved.
    pub fn new(function: impl Into<String>) -> Self {
        FuzzConfig {
            function: function.into(),
            seeds: Vec::new(),
            runs: Some(10_000),
            duration: None,
            seed: 0,
            max_len: 4096,
            fail_on_error: false,
            check: None,
            check_determinism: false,
            fresh_instance: false,
            minimize: true,
            minimize_budget: 2_000,
            out_dir: None,
            plugin_label: String::from("PLUGIN"),
            feedback: Feedback::Coverage,
            stop_on_finding: false,
        }
    }

    /// Sets the seed inputs.
    pub fn with_seeds(mut self, seeds: impl IntoIterator<Item = Vec<u8>>) -> Self {
        self.seeds = seeds.into_iter().collect();
        self
    }

    /// Sets the number of runs.
    pub fn with_runs(mut self, runs: u64) -> Self {
        self.runs = Some(runs);
        self
    }

    /// Sets the PRNG seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Fuel feedback (`true`) or outcome feedback alone (`false`).
    pub fn with_fuel_feedback(mut self, on: bool) -> Self {
        self.feedback = if on {
            Feedback::Fuel
        } else {
            Feedback::Outcome
        };
        self
    }

    /// Sets the feedback (see [`FuzzConfig::feedback`]).
    pub fn with_feedback(mut self, feedback: Feedback) -> Self {
        self.feedback = feedback;
        self
    }

    /// Sets the directory findings are saved to.
    pub fn with_out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks() {
        assert!(OutputCheck::Json.violation(b"{\"a\":1}").is_none());
        assert!(OutputCheck::Json.violation(b"{").is_some());
        assert!(OutputCheck::Utf8.violation(b"\xff").is_some());
        assert!(OutputCheck::Utf8.violation("é".as_bytes()).is_none());
    }
}
