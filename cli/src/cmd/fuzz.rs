//! `interplug fuzz`: fuzz a plug-in function's input.

use crate::args::{CheckArg, FeedbackArg, FuzzArgs};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use interplug_cli::exit::{self, CliError};
use interplug_cli::fuzzer::{escape, Feedback, Finding, FuzzConfig, Fuzzer, OutputCheck};
use interplug_cli::info::bytes;
use interplug_cli::options::load_manifest;
use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

/// Timeout of a call unless told otherwise, in milliseconds.
const DEFAULT_TIMEOUT_MS: u64 = 1000;
/// Memory budget unless told otherwise, in pages (64 MiB).
const DEFAULT_MEMORY_PAGES: u32 = 1024;
/// Largest seed file read from the corpus directory.
const MAX_SEED_BYTES: u64 = 1 << 20;

/// Runs the subcommand; returns the exit code.
pub fn run(args: FuzzArgs) -> Result<u8, CliError> {
    let manifest = load_manifest(&args.plugin, args.plugin_args.manifest)?;
    let mut options = args.plugin_args.options();
    if options.timeout_ms.is_none() && options.fuel.is_none() && manifest.timeout_ms.is_none() {
        options.timeout_ms = Some(DEFAULT_TIMEOUT_MS);
    }
    if options.memory_max_pages.is_none() && manifest.memory.max_pages.is_none() {
        options.memory_max_pages = Some(DEFAULT_MEMORY_PAGES);
    }
    // Coverage: the main module instrumented, compiled with the same options.
    let instrumented = match args.feedback {
        FeedbackArg::Coverage => match interplug::fuzzing::instrument_manifest(&manifest) {
            Ok(pair) => Some(pair),
            Err(e) => {
                eprintln!("cannot instrument the plug-in ({e:#}); fuzzing with fuel feedback");
                None
            }
        },
        FeedbackArg::Fuel => None,
    };
    let (compiled, map) = match instrumented {
        Some((instrumented, map)) => (options.compile(&instrumented, Vec::new())?, Some(map)),
        None => (options.compile(&manifest, Vec::new())?, None),
    };

    let mut seeds: Vec<Vec<u8>> = args.inputs.iter().map(|s| s.clone().into_bytes()).collect();
    if let Some(dir) = &args.corpus {
        seeds.extend(read_corpus(dir)?);
    }
    let seed = args.seed.unwrap_or_else(clock_seed);
    let mut config = FuzzConfig::new(args.function.clone())
        .with_seeds(seeds)
        .with_seed(seed)
        .with_out_dir(args.out.clone());
    config.runs = match (args.runs, args.seconds) {
        (Some(runs), _) => Some(runs),
        (None, Some(_)) => None,
        (None, None) => Some(10_000),
    };
    config.duration = args.seconds.map(Duration::from_secs);
    config.max_len = args.max_len;
    config.fail_on_error = args.fail_on_error;
    config.check = args.check.map(|c| match c {
        CheckArg::Json => OutputCheck::Json,
        CheckArg::Utf8 => OutputCheck::Utf8,
    });
    config.check_determinism = args.check_determinism;
    config.fresh_instance = args.fresh;
    config.minimize = !args.no_minimize;
    config.plugin_label = args.plugin.display().to_string();
    config.stop_on_finding = args.stop_on_finding;

    let fuzzer = match map {
        Some(map) => Fuzzer::with_coverage(compiled, map, config),
        None => Fuzzer::new(compiled, config.with_feedback(Feedback::Fuel)),
    };
    let mut fuzzer = fuzzer.map_err(|e| {
        let text = format!("{e:#}");
        if text.starts_with("Function not found") {
            CliError::plugin(text)
        } else {
            CliError::load(format!("cannot instantiate the plug-in: {text}"))
        }
    })?;
    eprintln!(
        "fuzzing `{}` of {} ({} feedback{}): seed {seed}, {}{}, {} seed inputs, timeout {}, \
         memory {}, findings in {}",
        args.function,
        args.plugin.display(),
        match fuzzer.config().feedback {
            Feedback::Coverage => "coverage",
            Feedback::Fuel => "fuel",
            Feedback::Outcome => "outcome",
        },
        match fuzzer.stats().edges_total {
            0 => String::new(),
            n => format!(", {n} edges"),
        },
        fuzzer
            .config()
            .runs
            .map(|r| format!("{r} runs"))
            .unwrap_or_default(),
        args.seconds
            .map(|s| format!(" (at most {s} s)"))
            .unwrap_or_default(),
        fuzzer.seeds().len(),
        options
            .timeout_ms
            .map_or_else(|| String::from("none"), |t| format!("{t} ms")),
        options
            .memory_max_pages
            .map_or_else(|| String::from("manifest"), |p| format!("{p} pages")),
        args.out.display()
    );

    let bar = progress_bar(fuzzer.config().runs);
    let result = fuzzer.run_with(|stats, finding| {
        if let Some(finding) = finding {
            let line = format!(
                "found {} after {} execs: {}",
                finding.kind,
                stats.execs,
                first_line(&finding.message)
            );
            if bar.is_hidden() {
                eprintln!("{line}");
            } else {
                bar.println(line);
            }
        }
        if stats.execs % 64 == 0 || finding.is_some() {
            bar.set_position(stats.execs);
            bar.set_message(format!(
                "{:.0} execs/s, corpus {}, {}{} findings",
                stats.execs_per_sec(),
                stats.corpus,
                if stats.edges_total > 0 {
                    format!("edges {}/{}, ", stats.edges, stats.edges_total)
                } else {
                    String::new()
                },
                stats.findings,
            ));
        }
    });
    bar.finish_and_clear();
    let findings = result.map_err(|e| CliError::io(format!("{e:#}")))?.to_vec();
    let stats = fuzzer.stats();
    println!(
        "done: {} execs (+{} replays) in {:.1} s ({:.0} execs/s), corpus {}, {} finding{}",
        stats.execs,
        stats.extra_execs,
        stats.elapsed.as_secs_f64(),
        stats.execs_per_sec(),
        stats.corpus,
        findings.len(),
        if findings.len() == 1 { "" } else { "s" }
    );
    if stats.edges_total > 0 {
        println!(
            "coverage: {}/{} edges ({:.1}%)",
            stats.edges,
            stats.edges_total,
            100.0 * stats.edges as f64 / stats.edges_total as f64
        );
    }
    if let Some(dir) = &args.save_corpus {
        let kept = fuzzer.minimized_corpus();
        save_corpus(dir, &kept)?;
        println!(
            "corpus: {} inputs kept of {} (minimised), saved to {}",
            kept.len(),
            stats.corpus,
            dir.display()
        );
    }
    for finding in &findings {
        print_finding(finding);
    }
    Ok(if findings.is_empty() {
        exit::OK
    } else {
        exit::PLUGIN_FAILED
    })
}

fn print_finding(finding: &Finding) {
    let shown: String = escape(&finding.input).chars().take(200).collect();
    println!(
        "{}: {} (found with {}{}){}",
        finding.kind,
        bytes(finding.input.len() as u64),
        bytes(finding.original_len as u64),
        if finding.reproducible {
            ""
        } else {
            ", not reproducible on a fresh instance"
        },
        finding
            .path
            .as_ref()
            .map(|p| format!(" saved to {}", p.display()))
            .unwrap_or_default()
    );
    println!("  message: {}", first_line(&finding.message));
    if let Some(location) = &finding.location {
        println!("  location: {location}");
    }
    println!("  input: {shown}");
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

/// A progress bar on stderr, hidden when stderr is not a terminal.
fn progress_bar(runs: Option<u64>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(runs, ProgressDrawTarget::stderr());
    let template = if runs.is_some() {
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} execs, {msg}"
    } else {
        "{spinner} [{elapsed_precise}] {pos} execs, {msg}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

/// Writes each input to `dir` as `<hash>.bin`.
fn save_corpus(dir: &Path, inputs: &[&[u8]]) -> Result<(), CliError> {
    std::fs::create_dir_all(dir).map_err(|e| {
        CliError::io(format!(
            "cannot create the corpus directory `{}`: {e}",
            dir.display()
        ))
    })?;
    for input in inputs {
        let mut hash = 0xcbf2_9ce4_8422_2325u64;
        for byte in *input {
            hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
        let path = dir.join(format!("{hash:016x}.bin"));
        std::fs::write(&path, input)
            .map_err(|e| CliError::io(format!("cannot write `{}`: {e}", path.display())))?;
    }
    Ok(())
}

/// Every file of the corpus directory, sorted by name for reproducibility.
fn read_corpus(dir: &Path) -> Result<Vec<Vec<u8>>, CliError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        CliError::usage(format!(
            "cannot read the corpus directory `{}`: {e}",
            dir.display()
        ))
    })?;
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    let mut seeds = Vec::new();
    for path in paths {
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if size > MAX_SEED_BYTES {
            log::warn!(target: "interplug", "skipping seed `{}`: larger than 1 MiB", path.display());
            continue;
        }
        match std::fs::read(&path) {
            Ok(bytes) => seeds.push(bytes),
            Err(e) => log::warn!(target: "interplug", "skipping seed `{}`: {e}", path.display()),
        }
    }
    Ok(seeds)
}

/// A seed from the clock, for runs without --seed.
fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x5eed)
}
