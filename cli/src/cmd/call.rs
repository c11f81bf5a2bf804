//! `interplug call`: call a plug-in function and print its output.

use crate::args::CallArgs;
use interplug::{Error, ErrorExt, ErrorKind};
use interplug_cli::exit::{self, CliError};
use interplug_cli::options::{self, load_manifest};
use std::io::{Read, Write};
use std::time::Instant;

/// Runs the subcommand; returns the exit code.
pub fn run(args: CallArgs) -> Result<u8, CliError> {
    if args.repeat == 0 {
        return Err(CliError::usage("--loop must be at least 1"));
    }
    let input = read_input(&args)?;
    let manifest = load_manifest(&args.plugin, args.plugin_args.manifest)?;
    let compiled = args.plugin_args.options().compile(&manifest, Vec::new())?;
    let mut plugin = options::instantiate(&compiled)?;
    let mut stdout = std::io::stdout().lock();
    for round in 1..=args.repeat {
        let start = Instant::now();
        let output = plugin
            .call::<&[u8], &[u8]>(&args.function, &input)
            .map_err(|e| call_error(&args, &manifest, &e))?
            .to_vec();
        log::info!(
            target: "interplug",
            "call {round}/{}: {} output bytes in {:.3} ms{}",
            args.repeat,
            output.len(),
            start.elapsed().as_secs_f64() * 1000.0,
            plugin
                .fuel_consumed()
                .map(|f| format!(", {f} fuel"))
                .unwrap_or_default()
        );
        let write = stdout.write_all(&output).and_then(|()| {
            if args.repeat > 1 {
                stdout.write_all(b"\n")
            } else {
                Ok(())
            }
        });
        write.map_err(|e| CliError::io(format!("cannot write the output: {e}")))?;
    }
    stdout
        .flush()
        .map_err(|e| CliError::io(format!("cannot write the output: {e}")))?;
    Ok(exit::OK)
}

/// The input bytes, from --input, --input-file or --stdin (empty by default).
fn read_input(args: &CallArgs) -> Result<Vec<u8>, CliError> {
    if let Some(text) = &args.input {
        return Ok(text.clone().into_bytes());
    }
    if let Some(path) = &args.input_file {
        return std::fs::read(path).map_err(|e| {
            CliError::usage(format!(
                "cannot read the input file `{}`: {e}",
                path.display()
            ))
        });
    }
    if args.stdin {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| CliError::io(format!("cannot read standard input: {e}")))?;
        return Ok(bytes);
    }
    Ok(Vec::new())
}

/// The error of a failed call, with advice.
fn call_error(args: &CallArgs, manifest: &interplug::Manifest, error: &Error) -> CliError {
    let mut text = format!("the call to `{}` failed: {error:#}", args.function);
    let kind = error.kind();
    if matches!(kind, ErrorKind::NotFound | ErrorKind::Invalid) {
        let functions = options::load_modules(manifest)
            .ok()
            .and_then(|modules| {
                modules
                    .into_iter()
                    .find(|(name, _)| name == "main")
                    .map(|(_, m)| m.plugin_functions().join(", "))
            })
            .unwrap_or_default();
        text.push_str(&format!(
            "\nhint: the plug-in's functions are: {}",
            if functions.is_empty() {
                "(none)"
            } else {
                &functions
            }
        ));
    } else if kind == ErrorKind::Timeout {
        text.push_str("\nhint: give it more time with --timeout MS");
    } else if kind == ErrorKind::OutOfFuel {
        text.push_str("\nhint: give it more fuel with --fuel UNITS");
    } else if kind == ErrorKind::OutOfMemory {
        text.push_str("\nhint: give it more memory with --memory-max PAGES");
    }
    CliError::plugin(text)
}
