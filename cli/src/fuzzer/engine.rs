//! The [`Fuzzer`]: picks or generates an input, runs it, keeps it when it behaved in
//! a new way, and records (reproduces, minimises, saves) what goes wrong.

use super::config::{Feedback, FuzzConfig};
use super::coverage::Coverage;
use super::findings::{dedup_key, save, Finding, FindingKind};
use super::outcome::{describe, differs, instantiate_failure, run_call, signature, Outcome};
use super::{json, minimize, mutate};
use crate::rng::Rng;
use interplug::fuzzing::input_to_state;
use interplug::rewrite::coverage::{CoverageMap, MEMORY_EXPORT};
use interplug::{CompiledPlugin, Error, Plugin};
use std::collections::HashSet;
use std::time::{Duration, Instant};

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
        plugin.instantiate()?;
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
            edges_total: coverage.as_ref().map_or(0, Coverage::blocks),
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
        if !coverage.has_compares() || !self.rng.one_in(4) {
            return None;
        }
        let entry = self.pick_entry()?;
        let coverage = self.coverage.as_ref()?;
        let comparison = self.rng.pick(coverage.compares_of(entry)?)?;
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
        match &self.coverage {
            Some(coverage) => coverage.minimized(&self.corpus),
            None => self.corpus.iter().map(Vec::as_slice).collect(),
        }
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
        for candidate in coverage.keep_entry(input) {
            if candidate.len() <= self.config.max_len && self.pending.len() < MAX_PENDING {
                self.pending.push_back(candidate);
            }
        }
    }

    /// Where the last call trapped, as text (coverage feedback, traps only).
    fn trap_location(&self, kind: FindingKind) -> Option<String> {
        let coverage = self.coverage.as_ref()?;
        (kind == FindingKind::Trap).then(|| coverage.trap_location())
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
            match instantiated(&self.compiled) {
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
        match instantiated(&self.compiled) {
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

/// A new plug-in of `compiled`, instantiated at once, so that an instantiation
/// failure is told apart from the call's.
fn instantiated(compiled: &CompiledPlugin) -> Result<Plugin, Error> {
    let mut plugin = Plugin::new_from_compiled(compiled)?;
    plugin.instantiate()?;
    Ok(plugin)
}
