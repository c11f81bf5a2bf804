//! `interplug info`: show what a plug-in exports and imports.

use crate::args::InfoArgs;
use interplug_cli::exit::{self, CliError};
use interplug_cli::info::InfoReport;
use interplug_cli::options::{load_manifest, load_modules};

/// Runs the subcommand; returns the exit code.
pub fn run(args: InfoArgs) -> Result<u8, CliError> {
    let manifest = load_manifest(&args.plugin, args.manifest)?;
    let is_manifest = !matches!(
        std::fs::read(&args.plugin)
            .ok()
            .and_then(|b| interplug::sources::detect(&b).ok()),
        Some(interplug::sources::SourceKind::WasmBinary | interplug::sources::SourceKind::WasmText)
    );
    let modules = load_modules(&manifest)?;
    let report = InfoReport {
        file: args.plugin.display().to_string(),
        manifest,
        is_manifest,
        modules,
        wasi: args.wasi,
    };
    if args.json {
        let text = serde_json::to_string_pretty(&report.to_json())
            .map_err(|e| CliError::io(format!("cannot write JSON: {e}")))?;
        println!("{text}");
    } else {
        print!("{}", report.to_text());
    }
    Ok(exit::OK)
}
