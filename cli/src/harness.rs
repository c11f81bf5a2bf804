//! Runs test plug-ins over the `xtp:test/harness` ABI (the one of the `xtp-test`
//! libraries for Rust, JS, Go and Zig).
//!
//! The test plug-in exports `test`; it imports from `xtp:test/harness`:
//!
//! | import | type | what the runner does |
//! |---|---|---|
//! | `call(name, input)` | (i64, i64) -> i64 | calls `name` of the plug-in under test with the bytes of block `input`; returns a block with the output, 0 when the call failed |
//! | `time(name, input)` | (i64, i64) -> i64 | the same call; returns the nanoseconds it took |
//! | `assert(name, ok, message)` | (i64, i64, i64) -> () | records an assertion |
//! | `reset()` | () -> () | replaces the plug-in under test by a fresh instance (new vars, memory, globals) |
//! | `group(name)` | (i64) -> () | the following assertions belong to group `name` |
//! | `mock_input()` | () -> i64 | no mock input: 0 |
//!
//! ```no_run
//! use interplug_cli::harness;
//! use interplug::{CompiledPlugin, Manifest, PluginBuilder, Wasm};
//! let under_test = CompiledPlugin::new(PluginBuilder::new(&Manifest::new([Wasm::file("count_vowels.wasm")])))?;
//! let test = Manifest::new([Wasm::file("xtp_pass.wasm")]);
//! let report = harness::run(&under_test, &test, false)?;
//! assert!(report.success(), "{} assertions failed", report.failed());
//! # Ok::<(), interplug::Error>(())
//! ```

use interplug::{
    CompiledPlugin, CurrentPlugin, Error, Function, Manifest, Plugin, PluginBuilder, UserData, Val,
    ValType, PTR,
};
use std::time::{Duration, Instant};

/// The import module of the harness functions.
pub const HARNESS_MODULE: &str = "xtp:test/harness";

/// One recorded assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    /// The group it belongs to (`None` before the first `group`).
    pub group: Option<String>,
    /// The assertion's name.
    pub name: String,
    /// Whether it held.
    pub ok: bool,
    /// The test library's explanation, e.g. `Expected 3 == 4`.
    pub message: String,
}

/// One call the test plug-in made to the plug-in under test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    /// The group it was made in.
    pub group: Option<String>,
    /// The function called.
    pub function: String,
    /// Input length in bytes.
    pub input_len: usize,
    /// How long it took.
    pub duration: Duration,
    /// Whether it was a `time` call.
    pub timed: bool,
    /// The error, when the call failed.
    pub error: Option<String>,
}

/// Something that happened during a test run, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A `group` started.
    Group(String),
    /// An assertion.
    Assert(Assertion),
    /// A call or time call.
    Call(CallRecord),
    /// A `reset`.
    Reset,
}

/// The outcome of a test run.
#[derive(Debug, Clone, Default)]
pub struct TestReport {
    /// Everything the test plug-in did, in order.
    pub events: Vec<Event>,
    /// Why the test plug-in itself failed (its `test` returned an error or trapped).
    pub test_error: Option<String>,
    /// Wall time of the whole run.
    pub duration: Duration,
}

impl TestReport {
    /// Every assertion in order.
    pub fn assertions(&self) -> impl Iterator<Item = &Assertion> {
        self.events.iter().filter_map(|e| match e {
            Event::Assert(a) => Some(a),
            _ => None,
        })
    }

    /// Number of assertions that held.
    pub fn passed(&self) -> usize {
        self.assertions().filter(|a| a.ok).count()
    }

    /// Number of assertions that failed.
    pub fn failed(&self) -> usize {
        self.assertions().filter(|a| !a.ok).count()
    }

    /// True when every assertion held and the test plug-in did not fail.
    pub fn success(&self) -> bool {
        self.failed() == 0 && self.test_error.is_none()
    }
}

/// The state the harness functions share.
struct Harness {
    compiled: CompiledPlugin,
    plugin: Option<Plugin>,
    /// Why the last instantiation failed.
    instantiate_error: Option<String>,
    group: Option<String>,
    events: Vec<Event>,
}

impl Harness {
    fn fresh_plugin(&mut self) {
        let instantiated = Plugin::new_from_compiled(&self.compiled).and_then(|mut plugin| {
            plugin.instantiate()?;
            Ok(plugin)
        });
        match instantiated {
            Ok(plugin) => {
                self.plugin = Some(plugin);
                self.instantiate_error = None;
            }
            Err(e) => {
                self.plugin = None;
                self.instantiate_error = Some(format!("{e:#}"));
            }
        }
    }

    /// Calls the plug-in under test; the output or an error text, and the time.
    fn call(
        &mut self,
        function: &str,
        input: &[u8],
        timed: bool,
    ) -> (Result<Vec<u8>, String>, Duration) {
        let start = Instant::now();
        let outcome = match self.plugin.as_mut() {
            Some(plugin) => plugin
                .call::<&[u8], &[u8]>(function, input)
                .map(|out| out.to_vec())
                .map_err(|e| format!("{e:#}")),
            None => Err(format!(
                "the plug-in under test could not be instantiated: {}",
                self.instantiate_error.as_deref().unwrap_or("unknown error")
            )),
        };
        let duration = start.elapsed();
        self.events.push(Event::Call(CallRecord {
            group: self.group.clone(),
            function: function.to_string(),
            input_len: input.len(),
            duration,
            timed,
            error: outcome.as_ref().err().cloned(),
        }));
        (outcome, duration)
    }
}

type Shared = UserData<Harness>;

fn lock(shared: &Shared) -> Result<std::sync::Arc<std::sync::Mutex<Harness>>, Error> {
    shared.get()
}

/// Runs the harness function body with the locked state.
fn with_harness<R>(
    shared: &Shared,
    f: impl FnOnce(&mut Harness) -> Result<R, Error>,
) -> Result<R, Error> {
    let state = lock(shared)?;
    let mut guard = state
        .lock()
        .map_err(|_| Error::msg("the test harness is unusable after an earlier panic"))?;
    f(&mut guard)
}

/// A string argument (a block handle of the test plug-in).
fn text_arg(plugin: &mut CurrentPlugin, inputs: &[Val], index: usize) -> Result<String, Error> {
    let value = inputs
        .get(index)
        .ok_or_else(|| Error::msg(format!("missing argument {index}")))?;
    let bytes: Vec<u8> = plugin.memory_get_val(value)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A bytes argument (a block handle of the test plug-in).
fn bytes_arg(plugin: &mut CurrentPlugin, inputs: &[Val], index: usize) -> Result<Vec<u8>, Error> {
    let value = inputs
        .get(index)
        .ok_or_else(|| Error::msg(format!("missing argument {index}")))?;
    plugin.memory_get_val(value)
}

/// The harness functions, bound to shared state.
fn functions(shared: &Shared) -> Vec<Function> {
    let ns = HARNESS_MODULE;
    vec![
        Function::new(
            "call",
            [PTR, PTR],
            [PTR],
            shared.clone(),
            |plugin, inputs, outputs, shared| {
                let name = text_arg(plugin, inputs, 0)?;
                let input = bytes_arg(plugin, inputs, 1)?;
                let (outcome, _) = with_harness(&shared, |h| Ok(h.call(&name, &input, false)))?;
                let handle = match outcome {
                    Ok(output) => plugin.memory_new(&output[..])?.offset,
                    Err(_) => 0,
                };
                if let Some(slot) = outputs.get_mut(0) {
                    *slot = Val::I64(handle as i64);
                }
                Ok(())
            },
        )
        .with_namespace(ns),
        Function::new(
            "time",
            [PTR, PTR],
            [ValType::I64],
            shared.clone(),
            |plugin, inputs, outputs, shared| {
                let name = text_arg(plugin, inputs, 0)?;
                let input = bytes_arg(plugin, inputs, 1)?;
                let (_, duration) = with_harness(&shared, |h| Ok(h.call(&name, &input, true)))?;
                if let Some(slot) = outputs.get_mut(0) {
                    *slot = Val::I64(i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX));
                }
                Ok(())
            },
        )
        .with_namespace(ns),
        Function::new(
            "assert",
            [PTR, ValType::I64, PTR],
            [],
            shared.clone(),
            |plugin, inputs, _outputs, shared| {
                let name = text_arg(plugin, inputs, 0)?;
                let ok = inputs.get(1).and_then(Val::i64).unwrap_or(0) != 0;
                let message = text_arg(plugin, inputs, 2)?;
                with_harness(&shared, |h| {
                    let group = h.group.clone();
                    h.events.push(Event::Assert(Assertion {
                        group,
                        name,
                        ok,
                        message,
                    }));
                    Ok(())
                })
            },
        )
        .with_namespace(ns),
        Function::new(
            "reset",
            [],
            [],
            shared.clone(),
            |_plugin, _inputs, _outputs, shared| {
                with_harness(&shared, |h| {
                    h.fresh_plugin();
                    h.events.push(Event::Reset);
                    Ok(())
                })
            },
        )
        .with_namespace(ns),
        Function::new(
            "group",
            [PTR],
            [],
            shared.clone(),
            |plugin, inputs, _outputs, shared| {
                let name = text_arg(plugin, inputs, 0)?;
                with_harness(&shared, |h| {
                    h.group = Some(name.clone());
                    h.events.push(Event::Group(name));
                    Ok(())
                })
            },
        )
        .with_namespace(ns),
        Function::new(
            "mock_input",
            [],
            [PTR],
            shared.clone(),
            |_plugin, _inputs, outputs, _shared| {
                if let Some(slot) = outputs.get_mut(0) {
                    *slot = Val::I64(0);
                }
                Ok(())
            },
        )
        .with_namespace(ns),
    ]
}

/// Runs the `test` export of the test plug-in `test` against `under_test`. WASI is
/// turned on for the test plug-in when `test_wasi`. An error means the test
/// plug-in or the plug-in under test could not be loaded; a failing test is a
/// report whose [`TestReport::success`] is false.
pub fn run(
    under_test: &CompiledPlugin,
    test: &Manifest,
    test_wasi: bool,
) -> Result<TestReport, Error> {
    let start = Instant::now();
    let mut harness = Harness {
        compiled: under_test.clone(),
        plugin: None,
        instantiate_error: None,
        group: None,
        events: Vec::new(),
    };
    harness.fresh_plugin();
    if let Some(error) = harness.instantiate_error.take() {
        return Err(Error::msg(format!(
            "cannot instantiate the plug-in under test: {error}"
        )));
    }
    let shared = UserData::new(harness);
    let mut test_plugin = PluginBuilder::new(test)
        .with_wasi(test_wasi)
        .with_functions(functions(&shared))
        .build()
        .map_err(|e| Error::msg(format!("cannot load the test plug-in: {e:#}")))?;
    if !test_plugin.function_exists("test") {
        return Err(Error::msg(
            "the test plug-in has no `test` export of type () -> i32: is it a test plug-in \
             (built with xtp-test or another harness library)?",
        ));
    }
    let outcome = test_plugin.call::<&[u8], &[u8]>("test", b"").map(|_| ());
    let test_error = outcome.err().map(|e| format!("{e:#}"));
    drop(test_plugin);
    let events = with_harness(&shared, |h| Ok(std::mem::take(&mut h.events)))?;
    Ok(TestReport {
        events,
        test_error,
        duration: start.elapsed(),
    })
}
