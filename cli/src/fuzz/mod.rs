//! A fuzzer for plug-in functions: mutates inputs, runs each under the plug-in's
//! limits, and reports, saves and minimises what goes wrong.
//!
//! Inputs come from seeds and from mutations of the corpus (byte flips, inserts,
//! deletes, splices, interesting bytes and numbers, copies of seed fragments, and
//! JSON-aware changes when a seed is JSON). The corpus grows with inputs that
//! behave in a new way: a new outcome, output size class or fuel-use class (fuel
//! use is a cheap stand-in for code coverage in an interpreter).
//!
//! Limits (fuel, timeout, memory) are those of the [`CompiledPlugin`]: build it with
//! `PluginBuilder::with_fuel_limit`, `Manifest::timeout_ms` and
//! `memory.max_pages`.
//!
//! ```no_run
//! use interplug::{CompiledPlugin, Manifest, PluginBuilder, Wasm};
//! use interplug_cli::fuzz::{FindingKind, FuzzConfig, Fuzzer};
//! let manifest = Manifest::new([Wasm::file("fuzzme.wasm")])
//!     .with_timeout(std::time::Duration::from_millis(1000));
//! let compiled = CompiledPlugin::new(PluginBuilder::new(&manifest))?;
//! let config = FuzzConfig::new("parse").with_seeds([b"#hello".to_vec()]).with_runs(10_000).with_seed(1);
//! let mut fuzzer = Fuzzer::new(compiled, config)?;
//! let findings = fuzzer.run()?;
//! assert!(findings.iter().any(|f| f.kind == FindingKind::Trap));
//! # Ok::<(), interplug::Error>(())
//! ```

mod json;
pub mod minimize;
pub mod mutate;

use crate::rng::Rng;
use interplug::{CompiledPlugin, Error, Plugin};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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
    /// Use the fuel a call consumed as coverage feedback (on by default). Fuel use
    /// depends only on what the plug-in executes (compiling a function on its first
    /// call costs none), so a run repeats exactly from its seed, also twice in one
    /// process. Turn it off to fuzz by outcome and output size alone.
    pub fuel_feedback: bool,
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
            fuel_feedback: true,
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

    /// Turns fuel-use feedback on or off (see [`FuzzConfig::fuel_feedback`]).
    pub fn with_fuel_feedback(mut self, on: bool) -> Self {
        self.fuel_feedback = on;
        self
    }

    /// Sets the directory findings are saved to.
    pub fn with_out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
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
}

/// Counters of a run.
#[derive(Debug, Clone, Default)]
pub struct FuzzStats {
    /// Executions of generated inputs (seeds included; replays and minimisation
    /// not).
    pub execs: u64,
    /// Executions spent on replays and minimisation.
    pub extra_execs: u64,
    /// Inputs in the corpus.
    pub corpus: usize,
    /// Distinct findings.
    pub findings: usize,
    /// Time since the run started.
    pub elapsed: Duration,
}

impl FuzzStats {
    /// Executions per second, replays included.
    pub fn execs_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            (self.execs + self.extra_execs) as f64 / secs
        } else {
            0.0
        }
    }
}

/// Largest corpus kept in memory.
const MAX_CORPUS: usize = 4096;

/// The fuzzing engine.
pub struct Fuzzer {
    compiled: CompiledPlugin,
    config: FuzzConfig,
    rng: Rng,
    plugin: Option<Plugin>,
    corpus: Vec<Vec<u8>>,
    seeds: Vec<Vec<u8>>,
    json_seeds: bool,
    pending: std::collections::VecDeque<Vec<u8>>,
    signatures: HashSet<(u8, u32, u32)>,
    seen: HashSet<(FindingKind, String)>,
    findings: Vec<Finding>,
    stats: FuzzStats,
    started: Option<Instant>,
}

impl std::fmt::Debug for Fuzzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fuzzer")
            .field("config", &self.config)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Fuzzer {
    /// A fuzzer for `config.function` of `compiled`. Fails when the plug-in cannot
    /// be instantiated or has no such function.
    pub fn new(compiled: CompiledPlugin, config: FuzzConfig) -> Result<Self, Error> {
        let plugin = Plugin::new_from_compiled(&compiled)?;
        if !plugin.function_exists(&config.function) {
            return Err(Error::msg(format!(
                "Function not found: {} (or it is not a plug-in function of type () -> i32)",
                config.function
            )));
        }
        let mut seeds = config.seeds.clone();
        if seeds.is_empty() {
            seeds = vec![Vec::new(), b"a".to_vec(), b"0".to_vec(), b"{}".to_vec()];
        }
        let json_seeds = seeds
            .iter()
            .any(|s| !s.is_empty() && serde_json::from_slice::<serde_json::Value>(s).is_ok());
        Ok(Fuzzer {
            rng: Rng::new(config.seed),
            compiled,
            plugin: Some(plugin),
            corpus: Vec::new(),
            pending: seeds.iter().cloned().collect(),
            seeds,
            json_seeds,
            signatures: HashSet::new(),
            seen: HashSet::new(),
            findings: Vec::new(),
            stats: FuzzStats::default(),
            started: None,
            config,
        })
    }

    /// The settings.
    pub fn config(&self) -> &FuzzConfig {
        &self.config
    }

    /// Counters so far.
    pub fn stats(&self) -> &FuzzStats {
        &self.stats
    }

    /// Findings so far.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// The seed inputs (the defaults when none were given).
    pub fn seeds(&self) -> &[Vec<u8>] {
        &self.seeds
    }

    /// The corpus (seeds that ran and inputs that behaved in a new way).
    pub fn corpus(&self) -> &[Vec<u8>] {
        &self.corpus
    }

    /// Runs until `runs` executions or `duration` is reached; returns the findings.
    pub fn run(&mut self) -> Result<&[Finding], Error> {
        self.run_with(|_, _| {})
    }

    /// Like [`Fuzzer::run`], calling `progress` after every execution with the
    /// counters and the new finding, if there is one.
    pub fn run_with(
        &mut self,
        mut progress: impl FnMut(&FuzzStats, Option<&Finding>),
    ) -> Result<&[Finding], Error> {
        while !self.done() {
            let found = self.step()?;
            progress(&self.stats, found.then(|| self.findings.last()).flatten());
        }
        Ok(&self.findings)
    }

    /// True when the run limits are reached.
    pub fn done(&self) -> bool {
        let runs_done = self.config.runs.is_some_and(|r| self.stats.execs >= r);
        let time_done = match (self.config.duration, self.started) {
            (Some(limit), Some(start)) => start.elapsed() >= limit,
            _ => false,
        };
        runs_done
            || time_done
            || (self.config.runs.is_none()
                && self.config.duration.is_none()
                && self.stats.execs >= 10_000)
    }

    /// Runs one generated input. Returns true when it produced a new finding (the
    /// last of [`Fuzzer::findings`]).
    pub fn step(&mut self) -> Result<bool, Error> {
        let start = *self.started.get_or_insert_with(Instant::now);
        let input = match self.pending.pop_front() {
            Some(seed) => seed,
            None => self.generate(),
        };
        let found = self.test_input(input)?;
        self.stats.elapsed = start.elapsed();
        self.stats.corpus = self.corpus.len();
        self.stats.findings = self.findings.len();
        Ok(found)
    }

    /// A new input from the corpus.
    fn generate(&mut self) -> Vec<u8> {
        let base = match self.rng.pick(&self.corpus) {
            Some(base) => base.clone(),
            None => self.rng.pick(&self.seeds).cloned().unwrap_or_default(),
        };
        if self.json_seeds && self.rng.one_in(3) {
            if let Some(mutated) = json::mutate(&mut self.rng, &base) {
                if mutated.len() <= self.config.max_len {
                    return mutated;
                }
            }
        }
        mutate::mutate(
            &mut self.rng,
            &base,
            &self.corpus,
            &self.seeds,
            self.config.max_len,
        )
    }

    /// Executes an input, records new behaviour and findings.
    fn test_input(&mut self, input: Vec<u8>) -> Result<bool, Error> {
        self.stats.execs += 1;
        let (outcome, fuel) = if self.config.fresh_instance || self.config.check_determinism {
            self.execute_fresh(&input)
        } else {
            self.execute(&input)
        };
        let fuel = fuel.filter(|_| self.config.fuel_feedback);
        let signature = signature(&outcome, fuel);
        if self.signatures.insert(signature) && self.corpus.len() < MAX_CORPUS {
            self.corpus.push(input.clone());
        }
        if let Some((kind, message)) = self.problem(&outcome) {
            return self.record(kind, message, input);
        }
        if self.config.check_determinism {
            let (again, _) = self.execute_fresh(&input);
            self.stats.extra_execs += 1;
            if differs(&outcome, &again) {
                let message = format!(
                    "two runs on fresh instances differ: {} vs {}",
                    describe(&outcome),
                    describe(&again)
                );
                return self.record(FindingKind::NonDeterministic, message, input);
            }
        }
        Ok(false)
    }

    /// The finding an outcome is, under the configuration.
    fn problem(&self, outcome: &Outcome) -> Option<(FindingKind, String)> {
        match outcome {
            Outcome::Ok(output) => self
                .config
                .check
                .and_then(|check| check.violation(output))
                .map(|message| (FindingKind::Check, message)),
            Outcome::Failed { kind, message } => match kind {
                FindingKind::Error if !self.config.fail_on_error => None,
                kind => Some((*kind, message.clone())),
            },
        }
    }

    /// Records a finding unless one like it is known: checks it reproduces on a
    /// fresh instance, minimises and saves it.
    fn record(
        &mut self,
        kind: FindingKind,
        message: String,
        input: Vec<u8>,
    ) -> Result<bool, Error> {
        if !self.seen.insert((kind, dedup_key(kind, &message))) {
            return Ok(false);
        }
        let reproducible = self.reproduces(kind, &message, &input);
        self.stats.extra_execs += 1;
        let minimized = if self.config.minimize && reproducible {
            let budget = self.config.minimize_budget;
            let mut extra = 0u64;
            let result = {
                let message = message.clone();
                minimize::minimize(&input, budget, |candidate| {
                    extra += 1;
                    self.reproduces(kind, &message, candidate)
                })
            };
            self.stats.extra_execs += extra;
            result
        } else {
            input.clone()
        };
        let mut finding = Finding {
            kind,
            message,
            original_len: input.len(),
            input: minimized,
            reproducible,
            path: None,
        };
        if let Some(dir) = self.config.out_dir.clone() {
            finding.path = Some(save(&dir, &self.config, &finding)?);
        }
        self.findings.push(finding);
        Ok(true)
    }

    /// True when `input` gives the same kind of finding on a fresh instance (for a
    /// trap, also the same message; for non-determinism, two runs differ again).
    fn reproduces(&self, kind: FindingKind, message: &str, input: &[u8]) -> bool {
        let (outcome, _) = self.execute_fresh(input);
        if kind == FindingKind::NonDeterministic {
            let (again, _) = self.execute_fresh(input);
            return differs(&outcome, &again);
        }
        match self.problem(&outcome) {
            Some((k, m)) if k == kind => kind != FindingKind::Trap || m == message,
            _ => false,
        }
    }

    /// Runs `input` on the fuzzer's instance (created again after a failure to
    /// instantiate). Also returns the fuel the call used.
    pub fn execute(&mut self, input: &[u8]) -> (Outcome, Option<u64>) {
        if self.plugin.is_none() {
            match Plugin::new_from_compiled(&self.compiled) {
                Ok(plugin) => self.plugin = Some(plugin),
                Err(e) => return (instantiate_failure(e), None),
            }
        }
        match self.plugin.as_mut() {
            Some(plugin) => run_call(plugin, &self.config.function, input),
            None => (
                Outcome::Failed {
                    kind: FindingKind::Trap,
                    message: String::from("no plug-in instance"),
                },
                None,
            ),
        }
    }

    /// Runs `input` on a fresh instance.
    pub fn execute_fresh(&self, input: &[u8]) -> (Outcome, Option<u64>) {
        match Plugin::new_from_compiled(&self.compiled) {
            Ok(mut plugin) => run_call(&mut plugin, &self.config.function, input),
            Err(e) => (instantiate_failure(e), None),
        }
    }
}

/// An instantiation failure as an outcome.
fn instantiate_failure(error: Error) -> Outcome {
    let message = format!("cannot instantiate the plug-in: {error:#}");
    Outcome::Failed {
        kind: classify(&message, false),
        message,
    }
}

/// Calls the function and classifies the result.
fn run_call(plugin: &mut Plugin, function: &str, input: &[u8]) -> (Outcome, Option<u64>) {
    match plugin.call::<&[u8], &[u8]>(function, input) {
        Ok(output) => {
            let output = output.to_vec();
            (Outcome::Ok(output), plugin.fuel_consumed())
        }
        Err(e) => {
            let message = format!("{e:#}");
            let plugin_error = plugin.current_plugin().error_message().is_some();
            (
                Outcome::Failed {
                    kind: classify(&message, plugin_error),
                    message,
                },
                None,
            )
        }
    }
}

/// The kind of a failed call from its message; `plugin_error` when the plug-in set
/// an error itself.
fn classify(message: &str, plugin_error: bool) -> FindingKind {
    if message.starts_with("timeout") {
        FindingKind::Timeout
    } else if message.starts_with("out of fuel") {
        FindingKind::OutOfFuel
    } else if message.starts_with("oom") {
        FindingKind::Oom
    } else if plugin_error || message.starts_with("Returned non-zero exit code") {
        FindingKind::Error
    } else {
        FindingKind::Trap
    }
}

/// A coarse description of behaviour: outcome class, output size class, fuel class.
fn signature(outcome: &Outcome, fuel: Option<u64>) -> (u8, u32, u32) {
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

/// What identifies "the same problem" among findings.
fn dedup_key(kind: FindingKind, message: &str) -> String {
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

/// True when two outcomes of the same input differ in a way that matters
/// (timeouts depend on the machine and are ignored).
fn differs(a: &Outcome, b: &Outcome) -> bool {
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
fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Ok(output) => {
            let shown: String = String::from_utf8_lossy(output).chars().take(60).collect();
            format!("output {shown:?} ({} bytes)", output.len())
        }
        Outcome::Failed { kind, message } => format!("{kind}: {message}"),
    }
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
fn save(dir: &Path, config: &FuzzConfig, finding: &Finding) -> Result<PathBuf, Error> {
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
    let report = format!(
        "kind: {}\nfunction: {function}\nmessage: {}\ninput: {} bytes (found with {} bytes{})\n\
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
    fn classification() {
        assert_eq!(
            classify("timeout: the call ran", false),
            FindingKind::Timeout
        );
        assert_eq!(classify("out of fuel: used", false), FindingKind::OutOfFuel);
        assert_eq!(classify("oom: over budget", false), FindingKind::Oom);
        assert_eq!(classify("invalid number", true), FindingKind::Error);
        assert_eq!(
            classify("Returned non-zero exit code: 3", false),
            FindingKind::Error
        );
        assert_eq!(classify("wasm trap: unreachable", false), FindingKind::Trap);
    }

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

    #[test]
    fn buckets_grow_slowly() {
        assert_eq!(log_bucket(3), 3);
        assert!(log_bucket(1000) < log_bucket(2000));
        assert_eq!(log_bucket(1_000_000), log_bucket(1_000_001));
    }

    #[test]
    fn checks() {
        assert!(OutputCheck::Json.violation(b"{\"a\":1}").is_none());
        assert!(OutputCheck::Json.violation(b"{").is_some());
        assert!(OutputCheck::Utf8.violation(b"\xff").is_some());
        assert!(OutputCheck::Utf8.violation("é".as_bytes()).is_none());
    }
}
