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
//! Limits (fuel, timeout, memory) are those of the
//! [`CompiledPlugin`](interplug::CompiledPlugin): build it with
//! `PluginBuilder::with_fuel_limit`, `Manifest::timeout_ms` and `memory.max_pages`.
//!
//! ```no_run
//! use interplug::{CompiledPlugin, Manifest, PluginBuilder, Wasm};
//! use interplug_cli::fuzzer::{FindingKind, FuzzConfig, Fuzzer};
//! let manifest = Manifest::new([Wasm::file("fuzzme.wasm")])
//!     .with_timeout(std::time::Duration::from_millis(1000));
//! let compiled = CompiledPlugin::new(PluginBuilder::new(&manifest))?;
//! let config = FuzzConfig::new("parse").with_seeds([b"#hello".to_vec()]).with_runs(10_000).with_seed(1);
//! let mut fuzzer = Fuzzer::new(compiled, config)?;
//! let findings = fuzzer.run()?;
//! assert!(findings.iter().any(|f| f.kind == FindingKind::Trap));
//! # Ok::<(), interplug::Error>(())
//! ```
//!
//! The files: `engine` (the [`Fuzzer`] and its loop), `config` (the settings),
//! `outcome` (running one input and classifying what it did), `coverage` (what the
//! coverage map showed so far), `findings` (what a finding is and how it is saved),
//! and the input generators `mutate`, `json` and `minimize`.

mod config;
mod coverage;
mod engine;
mod findings;
mod json;
pub mod minimize;
pub mod mutate;
mod outcome;

pub use config::{Feedback, FuzzConfig, OutputCheck};
pub use engine::{FuzzStats, Fuzzer};
pub use findings::{escape, Finding, FindingKind};
pub use outcome::Outcome;
