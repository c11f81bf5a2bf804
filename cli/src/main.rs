//! `interplug`: call, inspect, test and fuzz Extism plug-ins on the wasmi
//! interpreter. See `interplug --help` and cli/README.md.

mod args;
mod cmd;

use clap::Parser;
use interplug_cli::exit::{self, CliError};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors.
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    interplug_cli::logger::init(cli.log_level);
    let result = match cli.command {
        args::Command::Call(a) => cmd::call::run(a),
        args::Command::Info(a) => cmd::info::run(a),
        args::Command::Test(a) => cmd::test::run(a),
        args::Command::Fuzz(a) => cmd::fuzz::run(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(CliError { code, message }) => {
            eprintln!("error: {message}");
            ExitCode::from(code)
        }
    }
}
