//! The command line, as clap derive structures. The doc comments are the `--help`
//! text.

use clap::{Args, Parser, Subcommand, ValueEnum};
use interplug_cli::options::{parse_key_value, parse_path_mapping, PluginOptions};
use std::path::PathBuf;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the plug-in failed: call error or trap, failed assertion, fuzz finding
  2  usage: bad arguments
  3  the plug-in could not be loaded (file, manifest, compile, link, instantiate)
  4  I/O error of the command itself (stdout, output directory)";

/// Run Extism plug-ins on the wasmi interpreter: call their functions, inspect
/// them, run their tests and fuzz them.
///
/// A PLUGIN argument is a wasm file (.wasm), a wasm text file (.wat) or an Extism
/// manifest (JSON or TOML, detected from the content). Module paths in a manifest
/// are relative to the manifest's directory.
#[derive(Debug, Parser)]
#[command(name = "interplug", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// Log level for the plug-in's log_* messages and interplug's own: trace, debug,
    /// info, warn, error or off. Plug-ins read it with get_log_level.
    #[arg(
        long,
        global = true,
        default_value = "warn",
        value_name = "LEVEL",
        value_parser = interplug_cli::logger::parse_level
    )]
    pub log_level: log::LevelFilter,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Call a plug-in function and print its output.
    ///
    /// The output bytes go to stdout unchanged; errors go to stderr.
    #[command(after_help = CALL_EXAMPLES)]
    Call(CallArgs),
    /// Show a plug-in's exports, imports, memory and whether interplug can run it.
    #[command(after_help = INFO_EXAMPLES)]
    Info(InfoArgs),
    /// Run a test plug-in (written with xtp-test or another harness library)
    /// against a plug-in.
    #[command(after_help = TEST_EXAMPLES)]
    Test(TestArgs),
    /// Fuzz the input of a plug-in function and save what breaks it.
    #[command(after_help = FUZZ_EXAMPLES)]
    Fuzz(FuzzArgs),
}

const CALL_EXAMPLES: &str = "\
Examples:
  interplug call count_vowels.wasm count_vowels --input 'hello world'
  echo -n 'hello' | interplug call count_vowels.wasm count_vowels --stdin
  interplug call count_vowels.wasm count_vowels --input 'hello' --config vowels=lo --loop 3
  interplug call manifest.json greet --input Ada --timeout 500 --memory-max 64
  interplug call fs.wasm read_file --wasi --allow-path ./data:/data --input /data/a.txt
  interplug call limits.wasm infinite_loop --stub-host-functions --timeout 200

Exit codes: 0 ok, 1 the call failed, 2 usage, 3 cannot load the plug-in, 4 I/O.";

const INFO_EXAMPLES: &str = "\
Examples:
  interplug info count_vowels.wasm
  interplug info manifest.json --wasi
  interplug info plugin.wasm --json | jq .plugin_functions";

const TEST_EXAMPLES: &str = "\
Examples:
  interplug test count_vowels.wasm --test count_vowels_test.wasm
  interplug test plugin.wasm --test test.wasm --host mock_host.wasm --config key=value

Exit codes: 0 every assertion passed, 1 an assertion or the test plug-in failed,
2 usage, 3 cannot load a plug-in.";

const FUZZ_EXAMPLES: &str = "\
Examples:
  interplug fuzz fuzzme.wasm parse --input '#hello' --runs 10000 --seed 1
  interplug fuzz parser.wasm parse --corpus seeds/ --seconds 60 --check json
  interplug fuzz plugin.wasm run --fail-on-error --check-determinism --fuel 10000000

Findings are saved in --out (default fuzz-findings/) as <kind>-<hash>.bin (the
minimised input) and <kind>-<hash>.txt (what happened, how to replay it).
Exit codes: 0 no finding, 1 findings, 2 usage, 3 cannot load the plug-in.";

/// Limits and permissions for the plug-in; each overrides the manifest.
#[derive(Debug, Args, Clone)]
pub struct PluginArgs {
    /// Read the plug-in file as a manifest (JSON or TOML). Without it the format is
    /// detected from the content.
    #[arg(long)]
    pub manifest: bool,

    /// Enable WASI preview 1 (needed by plug-ins built for wasm32-wasip1).
    #[arg(long)]
    pub wasi: bool,

    /// Set a config key the plug-in reads with config_get (repeatable).
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub config: Vec<(String, String)>,

    /// Allow HTTP requests to hosts matching this glob pattern, e.g.
    /// '*.example.com' (repeatable). Without it the plug-in has no HTTP.
    #[arg(long = "allow-host", value_name = "PATTERN")]
    pub allow_host: Vec<String>,

    /// Give a WASI plug-in a host directory at a guest path; prefix the host path
    /// with 'ro:' for read-only (repeatable). Needs --wasi.
    #[arg(long = "allow-path", value_name = "HOST:GUEST", value_parser = parse_path_mapping)]
    pub allow_path: Vec<(String, String)>,

    /// Stop a call after this many milliseconds (error 'timeout').
    #[arg(long, value_name = "MS")]
    pub timeout: Option<u64>,

    /// Memory budget in 64 KiB pages for the plug-in's linear memory and Extism
    /// memory together (error 'oom' when exceeded).
    #[arg(long, value_name = "PAGES")]
    pub memory_max: Option<u32>,

    /// Give each call this much fuel (about one unit per wasm instruction); a call
    /// that uses it up fails.
    #[arg(long, value_name = "UNITS")]
    pub fuel: Option<u64>,

    /// Cap on the total size of the plug-in's vars in bytes (default 1 MiB; 0 turns
    /// vars off).
    #[arg(long, value_name = "BYTES")]
    pub var_max: Option<u64>,

    /// Cap on an HTTP response body in bytes.
    #[arg(long, value_name = "BYTES")]
    pub http_response_max: Option<u64>,

    /// Let the plug-in read HTTP response headers.
    #[arg(long)]
    pub enable_http_response_headers: bool,

    /// Replace host functions the plug-in imports (e.g. extism:host/user ones) by
    /// stubs that return 0, so plug-ins needing them can still be loaded.
    #[arg(long)]
    pub stub_host_functions: bool,
}

impl PluginArgs {
    /// The library's options.
    pub fn options(&self) -> PluginOptions {
        PluginOptions {
            wasi: self.wasi,
            config: self.config.clone(),
            allowed_hosts: self.allow_host.clone(),
            allowed_paths: self.allow_path.clone(),
            timeout_ms: self.timeout,
            memory_max_pages: self.memory_max,
            fuel: self.fuel,
            var_max_bytes: self.var_max,
            http_response_max_bytes: self.http_response_max,
            http_response_headers: self.enable_http_response_headers,
            stub_host_functions: self.stub_host_functions,
        }
    }
}

/// `interplug call`.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// The plug-in: .wasm, .wat or manifest (JSON/TOML).
    pub plugin: PathBuf,

    /// The plug-in function to call (an export of type () -> i32).
    pub function: String,

    /// The input, as text.
    #[arg(short, long, group = "source")]
    pub input: Option<String>,

    /// Read the input from this file (bytes, unchanged).
    #[arg(long, value_name = "PATH", group = "source")]
    pub input_file: Option<PathBuf>,

    /// Read the input from standard input.
    #[arg(long, group = "source")]
    pub stdin: bool,

    /// Call the function N times on the same plug-in instance (vars persist);
    /// outputs are separated by newlines.
    #[arg(long = "loop", value_name = "N", default_value_t = 1)]
    pub repeat: u32,

    #[command(flatten)]
    pub plugin_args: PluginArgs,
}

/// `interplug info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The plug-in: .wasm, .wat or manifest (JSON/TOML).
    pub plugin: PathBuf,

    /// Read the plug-in file as a manifest.
    #[arg(long)]
    pub manifest: bool,

    /// Check the imports as if WASI were enabled (as `call --wasi` would).
    #[arg(long)]
    pub wasi: bool,

    /// Print JSON for tools instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `interplug test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// The plug-in under test: .wasm, .wat or manifest.
    pub plugin: PathBuf,

    /// The test plug-in (exports `test`, imports xtp:test/harness).
    #[arg(long = "test", value_name = "TEST_WASM")]
    pub test: PathBuf,

    /// A mock host: a wasm module (an Extism plug-in itself) whose exports stand in
    /// for the host functions the plug-in under test imports, by name.
    #[arg(long = "host", alias = "mock-host", value_name = "MOCK_WASM")]
    pub host: Option<PathBuf>,

    /// Print every call the test made, with its timing.
    #[arg(short, long)]
    pub verbose: bool,

    #[command(flatten)]
    pub plugin_args: PluginArgs,
}

/// Which check successful outputs must pass.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CheckArg {
    /// Valid JSON.
    Json,
    /// Valid UTF-8.
    Utf8,
}

/// Feedback of `interplug fuzz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FeedbackArg {
    /// Block coverage and comparison tracing of the instrumented plug-in.
    Coverage,
    /// Fuel used per call.
    Fuel,
}

/// `interplug fuzz`.
#[derive(Debug, Args)]
pub struct FuzzArgs {
    /// The plug-in: .wasm, .wat or manifest.
    pub plugin: PathBuf,

    /// The plug-in function whose input is fuzzed.
    pub function: String,

    /// A directory of seed inputs, one per file.
    #[arg(long, value_name = "DIR")]
    pub corpus: Option<PathBuf>,

    /// A seed input as text (repeatable).
    #[arg(short, long = "input", value_name = "TEXT")]
    pub inputs: Vec<String>,

    /// Where findings are saved.
    #[arg(long, value_name = "DIR", default_value = "fuzz-findings")]
    pub out: PathBuf,

    /// Stop after this many executions (default 10000 unless --seconds is given).
    #[arg(long)]
    pub runs: Option<u64>,

    /// Stop after this many seconds.
    #[arg(long)]
    pub seconds: Option<u64>,

    /// Seed of the random generator: the same seed gives the same run (default:
    /// from the clock, printed at the start).
    #[arg(long)]
    pub seed: Option<u64>,

    /// Longest input generated, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 4096)]
    pub max_len: usize,

    /// Also report calls that fail with an error or a non-zero return code.
    #[arg(long)]
    pub fail_on_error: bool,

    /// Report successful outputs that are not valid JSON / UTF-8.
    #[arg(long, value_enum)]
    pub check: Option<CheckArg>,

    /// Run every input twice on fresh instances and report different results.
    #[arg(long)]
    pub check_determinism: bool,

    /// Use a fresh plug-in instance for every input (slower; default: one
    /// instance, rebuilt after a trap).
    #[arg(long)]
    pub fresh: bool,

    /// Save findings as found, without shrinking them.
    #[arg(long)]
    pub no_minimize: bool,

    /// What makes an input worth keeping: `coverage` instruments the plug-in
    /// (block hit counts, comparison operands for input-to-state mutations, trap
    /// locations); `fuel` uses the fuel a call consumed.
    #[arg(long, value_enum, default_value = "coverage")]
    pub feedback: FeedbackArg,

    /// Stop at the first finding.
    #[arg(long)]
    pub stop_on_finding: bool,

    /// Save the minimised corpus (inputs that keep the coverage reached) to DIR.
    #[arg(long, value_name = "DIR")]
    pub save_corpus: Option<PathBuf>,

    #[command(flatten)]
    pub plugin_args: PluginArgs,
}
