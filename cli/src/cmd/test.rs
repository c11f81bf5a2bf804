//! `interplug test`: run a test plug-in against a plug-in and report assertions.

use crate::args::TestArgs;
use interplug::{PluginBuilder, UserData};
use interplug_cli::exit::{self, CliError};
use interplug_cli::harness::{self, Event, TestReport};
use interplug_cli::mock_host;
use interplug_cli::options::{load_manifest, load_modules};
use std::fmt::Write as _;

/// Runs the subcommand; returns the exit code.
pub fn run(args: TestArgs) -> Result<u8, CliError> {
    let manifest = load_manifest(&args.plugin, args.plugin_args.manifest)?;
    let mut functions = Vec::new();
    if let Some(host) = &args.host {
        let mock_manifest = load_manifest(host, false)?;
        let mock_modules = load_modules(&mock_manifest)?;
        let mock_wasi = mock_modules.iter().any(|(_, m)| m.uses_wasi());
        let mock = PluginBuilder::new(&mock_manifest)
            .with_wasi(mock_wasi)
            .build()
            .map_err(|e| {
                CliError::load(format!(
                    "cannot load the mock host `{}`: {e:#}",
                    host.display()
                ))
            })?;
        let Some((_, mock_main)) = mock_modules.iter().find(|(name, _)| name == "main") else {
            return Err(CliError::load("the mock host has no `main` module"));
        };
        let modules = load_modules(&manifest)?;
        let (forwarders, missing) =
            mock_host::forwarding_functions(&UserData::new(mock), mock_main, &modules);
        if !missing.is_empty() {
            log::warn!(
                target: "interplug",
                "the mock host does not export {}",
                missing.join(", ")
            );
        }
        functions = forwarders;
    }
    let compiled = args.plugin_args.options().compile(&manifest, functions)?;
    let test_manifest = load_manifest(&args.test, false)?;
    let test_wasi = load_modules(&test_manifest)?
        .iter()
        .any(|(_, m)| m.uses_wasi());
    let report = harness::run(&compiled, &test_manifest, test_wasi)
        .map_err(|e| CliError::load(format!("{e:#}")))?;
    println!(
        "testing {} with {}",
        args.plugin.display(),
        args.test.display()
    );
    print!("{}", render(&report, args.verbose));
    Ok(if report.success() {
        exit::OK
    } else {
        exit::PLUGIN_FAILED
    })
}

/// The report as text: assertions under their groups, failed calls, a summary.
fn render(report: &TestReport, verbose: bool) -> String {
    let mut out = String::new();
    let mut in_group = false;
    let mut calls = 0usize;
    let mut call_time = std::time::Duration::ZERO;
    for event in &report.events {
        match event {
            Event::Group(name) => {
                let _ = writeln!(out, "{name}");
                in_group = true;
            }
            Event::Assert(a) => {
                let indent = if in_group { "  " } else { "" };
                if a.ok {
                    let _ = writeln!(out, "{indent}PASS {}", a.name);
                } else {
                    let _ = writeln!(out, "{indent}FAIL {}: {}", a.name, a.message);
                }
            }
            Event::Call(call) => {
                calls += 1;
                call_time += call.duration;
                let indent = if in_group { "  " } else { "" };
                let verb = if call.timed { "time" } else { "call" };
                if let Some(error) = &call.error {
                    let _ = writeln!(
                        out,
                        "{indent}{verb} {}({} bytes) failed: {error}",
                        call.function, call.input_len
                    );
                } else if verbose {
                    let _ = writeln!(
                        out,
                        "{indent}{verb} {}({} bytes): {:.3} ms",
                        call.function,
                        call.input_len,
                        call.duration.as_secs_f64() * 1000.0
                    );
                }
            }
            Event::Reset => {
                if verbose {
                    let indent = if in_group { "  " } else { "" };
                    let _ = writeln!(out, "{indent}reset");
                }
            }
        }
    }
    if let Some(error) = &report.test_error {
        let _ = writeln!(out, "the test plug-in failed: {error}");
    }
    let total = report.passed() + report.failed();
    let _ = writeln!(
        out,
        "\nresult: {} ({} passed, {} failed of {total} assertions) in {:.3} ms, {calls} call{} to \
         the plug-in taking {:.3} ms",
        if report.success() { "ok" } else { "FAILED" },
        report.passed(),
        report.failed(),
        report.duration.as_secs_f64() * 1000.0,
        if calls == 1 { "" } else { "s" },
        call_time.as_secs_f64() * 1000.0
    );
    out
}
