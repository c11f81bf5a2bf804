//! A fuzzer for plug-in functions: mutates inputs, runs each under the plug-in's
//! limits, and reports, saves and minimises what goes wrong.
//!
//! Inputs come from seeds and from mutations of the corpus (byte flips, inserts,
//! deletes, splices, interesting bytes and numbers, copies of seed fragments, and
//! JSON-aware changes when a seed is JSON). The corpus grows with inputs that
//! behave in a new way: with coverage feedback ([`Fuzzer::with_coverage`]) a block
//! hit-count class not seen before or a comparison that came closer to passing;
//! otherwise a new outcome, output size class or fuel-use class. With coverage,
//! the operands of the comparisons an input made turn into input-to-state
//! mutations (the observed operand, found in the input, replaced by the other),
//! and traps are told apart by where they happened.
//!
//! Limits (fuel, timeout, memory) are those of the [`CompiledPlugin`]: build it with
//! `PluginBuilder::with_fuel_limit`, `Manifest::timeout_ms` and
//! `memory.max_pages`.
//!
//! ```no_run
//! use interplug::{CompiledPlugin, Manifest, Wasm};
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
use interplug::fuzzing::{input_to_state, Comparison, Trace};
use interplug::rewrite::coverage::{CoverageMap, MEMORY_EXPORT};
use interplug::{CompiledPlugin, Error, ErrorExt, ErrorKind, Plugin};
use std::collections::{HashMap, HashSet};
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

/// What makes an input interesting enough to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    /// Block coverage and comparison progress of an instrumented plug-in (see
    /// [`Fuzzer::with_coverage`]); a fuzzer made with [`Fuzzer::new`] uses fuel.
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
    /// Blocks (coverage edges) hit so far (coverage feedback).
    pub edges: usize,
    /// Blocks the plug-in has (coverage feedback; 0 otherwise).
    pub edges_total: usize,
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
    coverage: Option<Coverage>,
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

/// Coverage state: the map of the instrumented plug-in and what was seen.
struct Coverage {
    map: CoverageMap,
    trace: Trace,
    /// Hit-count classes seen, one bit per class, per block.
    seen: Vec<u8>,
    /// Best progress per comparison site: equal executions, matching low bytes.
    best: HashMap<u32, (u32, u32)>,
    /// Blocks each corpus entry hit, for corpus minimisation.
    entry_blocks: Vec<Vec<u32>>,
    /// Comparisons each corpus entry made, for input-to-state mutations.
    entry_compares: Vec<Vec<Comparison>>,
}

impl Coverage {
    fn new(map: CoverageMap) -> Self {
        Coverage {
            seen: vec![0; map.layout.blocks as usize],
            map,
            trace: Trace::default(),
            best: HashMap::new(),
            entry_blocks: Vec::new(),
            entry_compares: Vec::new(),
        }
    }

    /// Records the last trace; true when it showed something new.
    fn novel(&mut self) -> bool {
        let mut new = false;
        for (seen, count) in self.seen.iter_mut().zip(&self.trace.counters) {
            if *count != 0 {
                let class = hit_class(*count);
                if *seen & class == 0 {
                    *seen |= class;
                    new = true;
                }
            }
        }
        for comparison in &self.trace.compares {
            let progress = (comparison.equal, comparison.matching_bytes());
            let best = self.best.entry(comparison.site).or_insert((0, 0));
            if progress.0 > best.0 || progress.1 > best.1 {
                best.0 = best.0.max(progress.0);
                best.1 = best.1.max(progress.1);
                new = true;
            }
        }
        new
    }

    fn edges(&self) -> usize {
        self.seen.iter().filter(|s| **s != 0).count()
    }
}

/// AFL's hit-count classes: 1, 2, 3, 4-7, 8-15, 16-31, 32-127, 128+, one bit each.
fn hit_class(count: u8) -> u8 {
    match count {
        0 => 0,
        1 => 1,
        2 => 2,
        3 => 4,
        4..=7 => 8,
        8..=15 => 16,
        16..=31 => 32,
        32..=127 => 64,
        _ => 128,
    }
}

/// Most input-to-state candidates queued per new corpus entry.
const MAX_I2S_PER_ENTRY: usize = 256;
/// Most inputs waiting to run.
const MAX_PENDING: usize = 8192;

impl std::fmt::Debug for Fuzzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fuzzer")
            .field("config", &self.config)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Fuzzer {
    /// A fuzzer for `config.function` of `compiled`, with fuel or outcome feedback
    /// (coverage needs [`Fuzzer::with_coverage`]). Fails when the plug-in cannot be
    /// instantiated or has no such function.
    pub fn new(compiled: CompiledPlugin, mut config: FuzzConfig) -> Result<Self, Error> {
        if config.feedback == Feedback::Coverage {
            config.feedback = Feedback::Fuel;
        }
        Fuzzer::build(compiled, None, config)
    }

    /// A fuzzer with coverage feedback: `compiled` is made from the manifest
    /// [`interplug::fuzzing::instrument_manifest`] returned with `map`. Fails as
    /// [`Fuzzer::new`], and when the plug-in is not instrumented.
    pub fn with_coverage(
        compiled: CompiledPlugin,
        map: CoverageMap,
        mut config: FuzzConfig,
    ) -> Result<Self, Error> {
        config.feedback = Feedback::Coverage;
        Fuzzer::build(compiled, Some(Coverage::new(map)), config)
    }

    fn build(
        compiled: CompiledPlugin,
        coverage: Option<Coverage>,
        config: FuzzConfig,
    ) -> Result<Self, Error> {
        let mut plugin = Plugin::new_from_compiled(&compiled)?;
        if coverage.is_some() && plugin.exported_memory(MEMORY_EXPORT).is_none() {
            return Err(Error::msg(
                "the plug-in is not instrumented for coverage: compile it from the manifest \
                 interplug::fuzzing::instrument_manifest returns",
            ));
        }
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
        let stats = FuzzStats {
            edges_total: coverage
                .as_ref()
                .map_or(0, |c| c.map.layout.blocks as usize),
            ..FuzzStats::default()
        };
        Ok(Fuzzer {
            rng: Rng::new(config.seed),
            compiled,
            coverage,
            plugin: Some(plugin),
            corpus: Vec::new(),
            pending: seeds.iter().cloned().collect(),
            seeds,
            json_seeds,
            signatures: HashSet::new(),
            seen: HashSet::new(),
            findings: Vec::new(),
            stats,
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
            || (self.config.stop_on_finding && !self.findings.is_empty())
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
        if let Some(candidate) = self.input_to_state_candidate() {
            return candidate;
        }
        let base = match self.pick_entry().and_then(|i| self.corpus.get(i)) {
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

    /// Now and then (coverage feedback): a corpus entry with one of its
    /// comparisons' operands written where the input holds the other.
    fn input_to_state_candidate(&mut self) -> Option<Vec<u8>> {
        let coverage = self.coverage.as_ref()?;
        if coverage.entry_compares.is_empty() || !self.rng.one_in(4) {
            return None;
        }
        let entry = self.pick_entry()?;
        let coverage = self.coverage.as_ref()?;
        let comparison = self.rng.pick(coverage.entry_compares.get(entry)?)?;
        let input = self.corpus.get(entry)?;
        let mut candidates = Vec::new();
        input_to_state(input, comparison, 16, &mut candidates);
        let mut candidate = match self.rng.pick(&candidates) {
            Some(candidate) => candidate.clone(),
            None if !input.is_empty() => {
                // The operand is not in the input: maybe a byte of it, transformed.
                // Move one byte by the difference (as xor or as sum).
                let mut candidate = input.clone();
                let at = self.rng.below(candidate.len());
                let (left, right) = (comparison.left as u8, comparison.right as u8);
                let (seen, wanted) = if self.rng.one_in(2) {
                    (left, right)
                } else {
                    (right, left)
                };
                candidate[at] = if self.rng.one_in(2) {
                    candidate[at] ^ seen ^ wanted
                } else {
                    candidate[at].wrapping_add(wanted.wrapping_sub(seen))
                };
                candidate
            }
            None => return None,
        };
        if self.rng.one_in(3) {
            // And a havoc mutation on top, for checks that need two changes.
            candidate = mutate::mutate(
                &mut self.rng,
                &candidate,
                &self.corpus,
                &self.seeds,
                self.config.max_len,
            );
        }
        candidate.truncate(self.config.max_len);
        Some(candidate)
    }

    /// A corpus entry to mutate: half of the time one of the eight newest (they
    /// tend to be the ones that got furthest).
    fn pick_entry(&mut self) -> Option<usize> {
        let len = self.corpus.len();
        if len == 0 {
            return None;
        }
        Some(if self.rng.one_in(2) {
            len - 1 - self.rng.below(len.min(8))
        } else {
            self.rng.below(len)
        })
    }

    /// The corpus without inputs whose blocks shorter or broader inputs cover
    /// (coverage feedback; otherwise the whole corpus): inputs covering the most
    /// blocks are kept first, then any that covers a block not covered yet.
    pub fn minimized_corpus(&self) -> Vec<&[u8]> {
        let Some(coverage) = &self.coverage else {
            return self.corpus.iter().map(Vec::as_slice).collect();
        };
        let mut order: Vec<usize> = (0..self.corpus.len()).collect();
        order.sort_by_key(|&i| {
            let blocks = coverage.entry_blocks.get(i).map_or(0, Vec::len);
            (std::cmp::Reverse(blocks), self.corpus[i].len(), i)
        });
        let mut covered = vec![false; coverage.seen.len()];
        let mut kept = Vec::new();
        for i in order {
            let blocks = coverage.entry_blocks.get(i).map_or(&[][..], Vec::as_slice);
            let mut adds = false;
            for block in blocks {
                if let Some(slot) = covered.get_mut(*block as usize) {
                    adds |= !*slot;
                    *slot = true;
                }
            }
            if adds {
                kept.push(i);
            }
        }
        kept.sort_unstable();
        kept.into_iter()
            .map(|i| self.corpus[i].as_slice())
            .collect()
    }

    /// Executes an input, records new behaviour and findings.
    fn test_input(&mut self, input: Vec<u8>) -> Result<bool, Error> {
        self.stats.execs += 1;
        let (outcome, fuel) = if self.config.fresh_instance || self.config.check_determinism {
            self.execute_fresh(&input)
        } else {
            self.execute(&input)
        };
        let fuel = fuel.filter(|_| self.config.feedback == Feedback::Fuel);
        let mut novel = self.signatures.insert(signature(&outcome, fuel));
        if let Some(coverage) = &mut self.coverage {
            novel |= coverage.novel();
            self.stats.edges = coverage.edges();
        }
        if novel && self.corpus.len() < MAX_CORPUS {
            self.add_to_corpus(&input);
        }
        if let Some((kind, message)) = self.problem(&outcome) {
            let location = self.trap_location(kind);
            return self.record(kind, message, location, input);
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
                return self.record(FindingKind::NonDeterministic, message, None, input);
            }
        }
        Ok(false)
    }

    /// Keeps `input`; with coverage, also what it covered and compared, and queues
    /// its input-to-state mutations.
    fn add_to_corpus(&mut self, input: &[u8]) {
        self.corpus.push(input.to_vec());
        let Some(coverage) = &mut self.coverage else {
            return;
        };
        let blocks: Vec<u32> = coverage
            .trace
            .counters
            .iter()
            .enumerate()
            .filter(|(_, c)| **c != 0)
            .map(|(i, _)| i as u32)
            .collect();
        coverage.entry_blocks.push(blocks);
        let compares: Vec<Comparison> = coverage
            .trace
            .compares
            .iter()
            .filter(|c| c.left != c.right || c.left_bytes != c.right_bytes)
            .take(512)
            .cloned()
            .collect();
        let mut candidates = Vec::new();
        for comparison in &compares {
            input_to_state(input, comparison, 8, &mut candidates);
            if candidates.len() >= MAX_I2S_PER_ENTRY {
                break;
            }
        }
        for candidate in candidates {
            if candidate.len() <= self.config.max_len && self.pending.len() < MAX_PENDING {
                self.pending.push_back(candidate);
            }
        }
        coverage.entry_compares.push(compares);
    }

    /// Where the last call trapped, as text (coverage feedback, traps only).
    fn trap_location(&self, kind: FindingKind) -> Option<String> {
        let coverage = self.coverage.as_ref()?;
        (kind == FindingKind::Trap)
            .then(|| coverage.map.describe_location(&coverage.trace.location))
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

    /// Records a finding unless one like it is known (for a trap with coverage:
    /// one at the same location): checks it reproduces on a fresh instance,
    /// minimises and saves it.
    fn record(
        &mut self,
        kind: FindingKind,
        message: String,
        location: Option<String>,
        input: Vec<u8>,
    ) -> Result<bool, Error> {
        let key = match &location {
            Some(location) => location.clone(),
            None => dedup_key(kind, &message),
        };
        if !self.seen.insert((kind, key)) {
            return Ok(false);
        }
        let reproducible = self.reproduces(kind, &message, location.as_deref(), &input);
        self.stats.extra_execs += 1;
        let minimized = if self.config.minimize && reproducible {
            let budget = self.config.minimize_budget;
            let mut extra = 0u64;
            let result = {
                let message = message.clone();
                let location = location.clone();
                minimize::minimize(&input, budget, |candidate| {
                    extra += 1;
                    self.reproduces(kind, &message, location.as_deref(), candidate)
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
            location,
        };
        if let Some(dir) = self.config.out_dir.clone() {
            finding.path = Some(save(&dir, &self.config, &finding)?);
        }
        self.findings.push(finding);
        Ok(true)
    }

    /// True when `input` gives the same kind of finding on a fresh instance (for a
    /// trap, also the same location with coverage, else the same message; for
    /// non-determinism, two runs differ again).
    fn reproduces(
        &mut self,
        kind: FindingKind,
        message: &str,
        location: Option<&str>,
        input: &[u8],
    ) -> bool {
        let (outcome, _) = self.execute_fresh(input);
        if kind == FindingKind::NonDeterministic {
            let (again, _) = self.execute_fresh(input);
            return differs(&outcome, &again);
        }
        match self.problem(&outcome) {
            Some((k, m)) if k == kind => match (kind, location) {
                (FindingKind::Trap, Some(location)) => {
                    self.trap_location(kind).as_deref() == Some(location)
                }
                (FindingKind::Trap, None) => m == message,
                _ => true,
            },
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
            Some(plugin) => run_call(plugin, &self.config.function, input, self.coverage.as_mut()),
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
    pub fn execute_fresh(&mut self, input: &[u8]) -> (Outcome, Option<u64>) {
        match Plugin::new_from_compiled(&self.compiled) {
            Ok(mut plugin) => run_call(
                &mut plugin,
                &self.config.function,
                input,
                self.coverage.as_mut(),
            ),
            Err(e) => (instantiate_failure(e), None),
        }
    }
}

/// An instantiation failure as an outcome.
fn instantiate_failure(error: Error) -> Outcome {
    Outcome::Failed {
        kind: classify(&error, false),
        message: format!("cannot instantiate the plug-in: {error:#}"),
    }
}

/// Calls the function and classifies the result; with coverage, reads what the
/// call recorded into the coverage's trace.
fn run_call(
    plugin: &mut Plugin,
    function: &str,
    input: &[u8],
    coverage: Option<&mut Coverage>,
) -> (Outcome, Option<u64>) {
    let result = plugin
        .call::<&[u8], &[u8]>(function, input)
        .map(<[u8]>::to_vec);
    if let Some(coverage) = coverage {
        match plugin.exported_memory(MEMORY_EXPORT) {
            Some(memory) => coverage.trace.take(&coverage.map, memory),
            None => coverage.trace = Trace::default(),
        }
    }
    match result {
        Ok(output) => (Outcome::Ok(output), plugin.fuel_consumed()),
        Err(e) => {
            let plugin_error = plugin.current_plugin().error_message().is_some();
            (
                Outcome::Failed {
                    kind: classify(&e, plugin_error),
                    message: format!("{e:#}"),
                },
                None,
            )
        }
    }
}

/// The kind of a failed call, from the error's kind; `plugin_error` when the
/// plug-in set an error itself.
fn classify(error: &Error, plugin_error: bool) -> FindingKind {
    match error.kind() {
        ErrorKind::Timeout | ErrorKind::Cancelled => FindingKind::Timeout,
        ErrorKind::OutOfFuel => FindingKind::OutOfFuel,
        ErrorKind::OutOfMemory => FindingKind::Oom,
        ErrorKind::Plugin { .. } | ErrorKind::Exit { .. } => FindingKind::Error,
        _ if plugin_error => FindingKind::Error,
        _ => FindingKind::Trap,
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
    fn classification_follows_the_error_kind() {
        let error = |kind| Error::new(interplug::Failure::new(kind, "any text"));
        assert_eq!(
            classify(&error(ErrorKind::Timeout), false),
            FindingKind::Timeout
        );
        assert_eq!(
            classify(&error(ErrorKind::OutOfFuel), false),
            FindingKind::OutOfFuel
        );
        assert_eq!(
            classify(&error(ErrorKind::OutOfMemory), false),
            FindingKind::Oom
        );
        assert_eq!(
            classify(&error(ErrorKind::Plugin { code: 3 }), false),
            FindingKind::Error
        );
        assert_eq!(classify(&error(ErrorKind::Trap), true), FindingKind::Error);
        assert_eq!(classify(&error(ErrorKind::Trap), false), FindingKind::Trap);
        // The message does not matter.
        assert_eq!(
            classify(&Error::msg("timeout: looks like one"), false),
            FindingKind::Trap
        );
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
