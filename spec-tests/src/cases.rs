//! The conformance cases: official-PDK plug-ins, the calls made on them in order, and
//! what each call must give. The same table runs through interplug's Rust API, its C
//! API, and the official runtime (the differential suite).

use crate::capi::{CApiLibrary, CHostFunction, CPlugin, HostBehaviour, ORACLE_ENV};
use crate::fixtures;
use std::sync::Arc;

/// What one call must give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Success with exactly these output bytes.
    Output(Vec<u8>),
    /// Failure whose message contains this text (on interplug; the official runtime
    /// only has to fail too).
    Fails(String),
    /// Failure with this return code (C API) and message text.
    FailsWithCode(i32, String),
}

/// One call of a case.
#[derive(Debug, Clone)]
pub struct Step {
    /// Exported function to call.
    pub function: String,
    /// Input bytes.
    pub input: Vec<u8>,
    /// What it must give.
    pub expect: Expect,
}

/// A host function a case registers, on both runtimes.
#[derive(Debug, Clone)]
pub struct HostFn {
    /// Import module.
    pub namespace: String,
    /// Import name.
    pub name: String,
    /// What it does with its input block.
    pub behaviour: HostBehaviour,
}

impl HostFn {
    /// The function for the C API client.
    pub fn to_c(&self) -> CHostFunction {
        CHostFunction::new(self.name.clone(), self.behaviour.clone())
            .with_namespace(self.namespace.clone())
    }

    /// The function for interplug's Rust API: `(i64) -> i64`, reading the input
    /// block and answering the behaviour's output in a new block.
    pub fn to_interplug(&self) -> interplug::Function {
        let behaviour = self.behaviour.clone();
        interplug::Function::new(
            self.name.clone(),
            [interplug::PTR],
            [interplug::PTR],
            interplug::UserData::new(()),
            move |plugin: &mut interplug::CurrentPlugin,
                  inputs: &[interplug::Val],
                  outputs: &mut [interplug::Val],
                  _: interplug::UserData<()>| {
                let arg = inputs
                    .first()
                    .ok_or_else(|| interplug::Error::msg("no argument"))?;
                let input: Vec<u8> = plugin.memory_get_val(arg)?;
                let output = behaviour.apply(&input);
                let slot = outputs
                    .first_mut()
                    .ok_or_else(|| interplug::Error::msg("no result slot"))?;
                plugin.memory_set_val(slot, output)
            },
        )
        .with_namespace(self.namespace.clone())
    }
}

/// A plug-in and the calls made on it, in order, on one instance.
#[derive(Debug, Clone)]
pub struct Case {
    /// Unique name.
    pub name: &'static str,
    /// Manifest JSON (fixture paths absolute).
    pub manifest: String,
    /// Create with WASI.
    pub wasi: bool,
    /// Host functions to register.
    pub host: Vec<HostFn>,
    /// Calls, in order.
    pub steps: Vec<Step>,
    /// Why the official runtime is expected to differ from the step with this index
    /// on, if it does; `None` when both must agree on every step.
    pub deliberate_difference: Option<(usize, &'static str)>,
}

/// The outcome of one call, on either runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Output bytes.
    Ok(Vec<u8>),
    /// Return code and message.
    Err(i32, String),
}

impl Outcome {
    /// True on success.
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok(_))
    }
}

/// Checks an outcome against the expectation; `Err` explains the mismatch.
pub fn check(expect: &Expect, outcome: &Outcome) -> Result<(), String> {
    match (expect, outcome) {
        (Expect::Output(want), Outcome::Ok(got)) if want == got => Ok(()),
        (Expect::Fails(text), Outcome::Err(_, message)) if message.contains(text.as_str()) => {
            Ok(())
        }
        (Expect::FailsWithCode(rc, text), Outcome::Err(got_rc, message))
            if rc == got_rc && message.contains(text.as_str()) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "expected {}, got {}",
            show_expect(expect),
            show_outcome(outcome)
        )),
    }
}

fn show_bytes(bytes: &[u8]) -> String {
    if bytes.len() > 200 {
        return format!("<{} bytes>", bytes.len());
    }
    format!("{:?}", String::from_utf8_lossy(bytes))
}

fn show_expect(expect: &Expect) -> String {
    match expect {
        Expect::Output(bytes) => format!("output {}", show_bytes(bytes)),
        Expect::Fails(text) => format!("a failure containing {text:?}"),
        Expect::FailsWithCode(rc, text) => format!("a failure with rc {rc} containing {text:?}"),
    }
}

/// A readable form of an outcome.
pub fn show_outcome(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Ok(bytes) => format!("output {}", show_bytes(bytes)),
        Outcome::Err(rc, message) => format!("failure rc {rc}: {message:?}"),
    }
}

fn step(function: &str, input: impl AsRef<[u8]>, expect: Expect) -> Step {
    Step {
        function: function.to_string(),
        input: input.as_ref().to_vec(),
        expect,
    }
}

fn ok(bytes: impl AsRef<[u8]>) -> Expect {
    Expect::Output(bytes.as_ref().to_vec())
}

fn fails(text: &str) -> Expect {
    Expect::Fails(text.to_string())
}

/// A manifest JSON for one fixture, with extra top-level fields.
pub fn manifest_for(fixture_name: &str, extra: serde_json::Value) -> String {
    let mut manifest = serde_json::json!({
        "wasm": [{"path": fixtures::path(fixture_name).to_string_lossy()}],
    });
    if let (Some(object), serde_json::Value::Object(extra)) = (manifest.as_object_mut(), extra) {
        object.extend(extra);
    }
    manifest.to_string()
}

fn case(name: &'static str, fixture_name: &str, steps: Vec<Step>) -> Case {
    Case {
        name,
        manifest: manifest_for(fixture_name, serde_json::json!({})),
        wasi: false,
        host: Vec::new(),
        steps,
        deliberate_difference: None,
    }
}

/// The host functions `host_fns.wasm` and `limits.wasm` import: `hello_world`
/// answers `"Hello, " ++ input`, `panic_now` and `shout` the input uppercased.
pub fn host_fns() -> Vec<HostFn> {
    vec![
        HostFn {
            namespace: "extism:host/user".into(),
            name: "hello_world".into(),
            behaviour: HostBehaviour::Prefix(b"Hello, ".to_vec()),
        },
        HostFn {
            namespace: "extism:host/user".into(),
            name: "panic_now".into(),
            behaviour: HostBehaviour::Uppercase,
        },
        HostFn {
            namespace: "example:other".into(),
            name: "shout".into(),
            behaviour: HostBehaviour::Uppercase,
        },
    ]
}

/// Every conformance case.
pub fn all() -> Vec<Case> {
    let big: Vec<u8> = (0..16 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let mut cases = vec![
        case(
            "count_vowels keeps a running total in a var",
            "count_vowels",
            vec![
                step(
                    "count_vowels",
                    "hello world",
                    ok(r#"{"count":3,"total":3,"vowels":"aeiouAEIOU"}"#),
                ),
                step(
                    "count_vowels",
                    "hello world",
                    ok(r#"{"count":3,"total":6,"vowels":"aeiouAEIOU"}"#),
                ),
                step(
                    "count_vowels",
                    "",
                    ok(r#"{"count":0,"total":6,"vowels":"aeiouAEIOU"}"#),
                ),
                step("count_vowels", [0xff, 0xfe], fails("invalid utf-8")),
                step(
                    "count_vowels",
                    "AEIOU",
                    ok(r#"{"count":5,"total":11,"vowels":"aeiouAEIOU"}"#),
                ),
            ],
        ),
        Case {
            manifest: manifest_for(
                "count_vowels",
                serde_json::json!({"config": {"vowels": "lo"}}),
            ),
            ..case(
                "count_vowels reads its vowels from config",
                "count_vowels",
                vec![step(
                    "count_vowels",
                    "hello world",
                    ok(r#"{"count":5,"total":5,"vowels":"lo"}"#),
                )],
            )
        },
        case(
            "echo returns its input byte for byte",
            "echo",
            vec![
                step("echo", "", ok("")),
                step("echo", "hello", ok("hello")),
                step("echo", [0u8, 1, 2, 255, 254], ok([0u8, 1, 2, 255, 254])),
                step("length", "abc", ok("3")),
            ],
        ),
        case(
            "echo handles 16 MiB in and out",
            "echo",
            vec![
                step("echo", &big, ok(&big)),
                step("length", &big, ok((16 * 1024 * 1024).to_string())),
                step("echo", "after", ok("after")),
            ],
        ),
        Case {
            host: host_fns(),
            ..case(
                "host functions round trip in two namespaces",
                "host_fns",
                vec![
                    step("call_host", "world", ok("Hello, world")),
                    step("call_other", "quiet", ok("QUIET")),
                    step("call_host", "", ok("Hello, ")),
                ],
            )
        },
        case(
            "a plug-in error fails the call with its message",
            "fail",
            vec![
                step(
                    "fail",
                    "abc",
                    Expect::FailsWithCode(-1, "failed on purpose: abc".into()),
                ),
                step("ok", "", ok("ok")),
                step("nonzero", "", Expect::FailsWithCode(3, String::new())),
                step("ok", "", ok("ok")),
                step(
                    "missing_function",
                    "",
                    fails("Function not found: missing_function"),
                ),
                step("ok", "", ok("ok")),
            ],
        ),
        case(
            "logging plug-in runs at any level",
            "logging",
            vec![
                step("log_all", "a message", ok("logged")),
                step("log_all", "again", ok("logged")),
            ],
        ),
        Case {
            manifest: manifest_for(
                "config",
                serde_json::json!({"config": {"key": "value", "other": "two words"}}),
            ),
            ..case(
                "config present and absent",
                "config",
                vec![
                    step("get_config", "key", ok("value")),
                    step("get_config", "other", ok("two words")),
                    step("get_config", "missing", ok("<absent>")),
                ],
            )
        },
        case(
            "config absent entirely",
            "config",
            vec![step("get_config", "key", ok("<absent>"))],
        ),
        case(
            "vars set, get and remove across calls",
            "vars",
            vec![
                step("var_get", "a", ok("<absent>")),
                step("var_set", "a=1=2", ok("ok")),
                step("var_get", "a", ok("1=2")),
                step("var_set", "b=x", ok("ok")),
                step("var_remove", "a", ok("ok")),
                step("var_get", "a", ok("<absent>")),
                step("var_get", "b", ok("x")),
                step("var_set", "b=", ok("ok")),
                step("var_get", "b", ok("<absent>")),
                step("var_set", "novalue", fails("var_set expects key=value")),
                step("var_get", "a", ok("<absent>")),
            ],
        ),
        Case {
            manifest: serde_json::json!({"wasm": [
                {"path": fixtures::path("link_math").to_string_lossy(), "name": "math"},
                {"path": fixtures::path("link_main").to_string_lossy()},
            ]})
            .to_string(),
            ..case(
                "two modules linked by name",
                "link_main",
                vec![
                    step("compute", "6,7", ok("sum=13 product=42")),
                    step("compute", " -3 , 5 ", ok("sum=2 product=-15")),
                    step("compute", "nocomma", fails("compute expects a,b")),
                    step("compute", "1,1", ok("sum=2 product=1")),
                ],
            )
        },
        Case {
            wasi: true,
            ..case(
                "a reactor's _initialize runs exactly once",
                "reactor",
                vec![
                    step("init_count", "", ok("1")),
                    step("init_count", "", ok("1")),
                ],
            )
        },
        Case {
            host: host_fns(),
            ..case(
                "traps fail the call and the plug-in stays usable",
                "limits",
                vec![
                    step("div_zero", "", fails("divide by zero")),
                    step("compute", "10", ok("17818939798065174182")),
                    step("unreachable", "", fails("unreachable")),
                    step("compute", "1", ok("3236661110559197968")),
                    step("oob", "", fails("out of bounds")),
                    step("recurse", "100", ok("1528562521")),
                    step("recurse", "1000000", fails("stack")),
                    step("compute", "0", ok("11400714819323198485")),
                ],
            )
        },
        Case {
            manifest: manifest_for("limits", serde_json::json!({"timeout_ms": 200})),
            host: host_fns(),
            ..case(
                "timeout stops an infinite loop",
                "limits",
                vec![
                    step("infinite_loop", "", fails("timeout")),
                    step("compute", "10", ok("17818939798065174182")),
                ],
            )
        },
        Case {
            manifest: manifest_for("limits", serde_json::json!({"memory": {"max_pages": 40}})),
            host: host_fns(),
            deliberate_difference: Some((
                1,
                "after an out-of-memory failure the official runtime fails every later call \
                 with `oom` (its budget is never given back); interplug frees the call's memory",
            )),
            ..case(
                "memory budget refuses a big Extism allocation",
                "limits",
                vec![
                    step(
                        "extism_alloc",
                        (16 * 1024 * 1024).to_string(),
                        fails("returned 0"),
                    ),
                    step("extism_alloc", "1024", ok("allocated")),
                ],
            )
        },
    ];
    for case in &mut cases {
        if case.host.is_empty() && case.manifest.contains("limits.wasm") {
            case.host = host_fns();
        }
    }
    cases
}

/// Creates a case's plug-in, with its host functions, through the C API of `lib`.
pub fn create_c(lib: &Arc<CApiLibrary>, case: &Case) -> Result<CPlugin, String> {
    let functions: Vec<CHostFunction> = case.host.iter().map(HostFn::to_c).collect();
    lib.plugin_new(case.manifest.as_bytes(), &functions, case.wasi)
}

/// Runs a case through the C API of `lib` (ours or the official library); `Err` when
/// creation fails.
pub fn run_c(lib: &Arc<CApiLibrary>, case: &Case) -> Result<Vec<Outcome>, String> {
    let mut plugin = create_c(lib, case)?;
    Ok(case
        .steps
        .iter()
        .map(|step| {
            let outcome = plugin.call(&step.function, &step.input);
            if outcome.rc == 0 {
                Outcome::Ok(outcome.output)
            } else {
                Outcome::Err(outcome.rc, outcome.error.unwrap_or_default())
            }
        })
        .collect())
}

/// Runs a case through interplug's Rust API; `Err` when creation fails.
pub fn run_rust(case: &Case) -> Result<Vec<Outcome>, String> {
    let functions = case.host.iter().map(HostFn::to_interplug);
    let mut plugin = interplug::Plugin::new(case.manifest.as_bytes(), functions, case.wasi)
        .map_err(|e| format!("{e:#}"))?;
    Ok(case
        .steps
        .iter()
        .map(|step| {
            match plugin.call_get_error_code::<&[u8], &[u8]>(&step.function, &step.input[..]) {
                Ok(output) => Outcome::Ok(output.to_vec()),
                Err((error, rc)) => Outcome::Err(rc, format!("{error:#}")),
            }
        })
        .collect())
}

/// The official library for a test, when `INTERPLUG_ORACLE_LIB` names it;
/// otherwise `None`, with a notice on stderr saying how to get it.
///
/// # Panics
/// When the variable names a library that cannot be loaded: a broken oracle
/// must not let the comparison pass silently.
pub fn oracle() -> Option<Arc<CApiLibrary>> {
    match CApiLibrary::open_oracle() {
        Ok(Some(lib)) => Some(lib),
        Ok(None) => {
            eprintln!(
                "oracle absent: set {ORACLE_ENV}=\"$(scripts/fetch-oracle.sh | tail -n1)\" \
                 to compare with the official libextism; skipping that part"
            );
            None
        }
        Err(e) => panic!("the official library cannot be used: {e}"),
    }
}
