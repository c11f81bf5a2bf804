//! A host program written against the `extism` crate 1.x API: a host function with
//! user data, config, vars and typed calls, and `extism-convert`'s wrappers and derives
//! named directly. It builds against interplug because the dependency is renamed in
//! `Cargo.toml`; the code is unchanged.

use extism::{convert::Json, *};
use serde::Deserialize;

/// What `count_vowels` returns.
#[derive(Debug, Deserialize)]
struct VowelCount {
    count: u64,
    total: u64,
    vowels: String,
}

/// A key-value store host functions share.
type KeyValue = std::collections::BTreeMap<String, String>;

host_fn!(hello_world(user_data: KeyValue; name: String) -> String {
    let store = user_data.get()?;
    let mut store = store.lock().unwrap();
    let calls = store.get("calls").and_then(|c| c.parse::<u64>().ok()).unwrap_or(0) + 1;
    store.insert("calls".to_string(), calls.to_string());
    Ok(format!("Hello, {name}! (call {calls})"))
});

host_fn!(shout(text: String) -> String { Ok(text.to_uppercase()) });

/// A tool call, as an MCP server's plug-ins exchange them; derived with
/// extism-convert's macros.
#[derive(
    Debug,
    PartialEq,
    serde::Serialize,
    serde::Deserialize,
    extism_convert::ToBytes,
    extism_convert::FromBytes,
)]
#[encoding(extism_convert::Json)]
struct ToolCall {
    tool: String,
    arguments: Vec<String>,
}

// An encoding of the host's own, made with extism-convert's `encoding!`.
extism_convert::encoding!(Compact, serde_json::to_vec, serde_json::from_slice);

// `extism_convert::Json` in a host function, as hyper-mcp writes them.
host_fn!(run_tool(call: extism_convert::Json<ToolCall>) -> extism_convert::Json<ToolCall> {
    let extism_convert::Json(mut call) = call;
    call.arguments.push(format!("ran {}", call.tool));
    Ok(extism_convert::Json(call))
});

// A borrowed argument (`memory_get_val::<&str>`), as extism allows.
host_fn!(count_bytes(text: &str) -> String { Ok(text.len().to_string()) });

/// A raw host function using `CurrentPlugin`'s error and vars accessors: it records
/// its input in the vars and fails the call when the input is "fail".
fn remember(
    plugin: &mut CurrentPlugin,
    inputs: &[Val],
    outputs: &mut [Val],
    _user_data: UserData<()>,
) -> Result<(), Error> {
    let text: String = plugin.memory_get_val(&inputs[0])?;
    plugin
        .vars_mut()
        .insert("last".to_string(), text.clone().into_bytes());
    if text == "fail" {
        plugin.set_error("refused by the host")?;
        assert_eq!(plugin.get_error(), Some("refused by the host"));
    }
    plugin.memory_set_val(&mut outputs[0], text)?;
    Ok(())
}

typed_plugin!(CountVowels {
    count_vowels(&str) -> Json<VowelCount>;
});

fn fixture(name: &str) -> String {
    format!(
        "{}/../../spec-tests/fixtures/{name}.wasm",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn fixtures_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec-tests/fixtures")
}

fn main() -> Result<(), Error> {
    run()
}

/// The whole program; also run as a test.
fn run() -> Result<(), Error> {
    // count_vowels with config and its `total` var across calls, through a typed wrapper.
    let manifest =
        Manifest::new([Wasm::file(fixture("count_vowels"))]).with_config_key("vowels", "aeiouy");
    let plugin = Plugin::new(&manifest, [], true)?;
    let mut typed: CountVowels = plugin.try_into()?;
    let Json(first) = typed.count_vowels("hello world")?;
    let Json(second) = typed.count_vowels("yay")?;
    println!("{first:?} then {second:?}");
    assert_eq!(
        (first.count, second.total, second.vowels.as_str()),
        (3, 6, "aeiouy")
    );

    // Host functions with user data, one in another namespace.
    let store = UserData::new(KeyValue::new());
    let mut plugin = PluginBuilder::new(Manifest::new([Wasm::file(fixture("host_fns"))]))
        .with_wasi(false)
        .with_function("hello_world", [PTR], [PTR], store.clone(), hello_world)
        .with_function(
            "panic_now",
            [PTR],
            [PTR],
            UserData::new(KeyValue::new()),
            hello_world,
        )
        .with_function_in_namespace(
            "example:other",
            "shout",
            [PTR],
            [PTR],
            UserData::default(),
            shout,
        )
        .build()?;
    let greeting: String = plugin.call("call_host", "Ada")?;
    let loud: &str = plugin.call("call_other", "quiet please")?;
    println!("{greeting} / {loud}");
    assert_eq!(greeting, "Hello, Ada! (call 1)");
    assert_eq!(
        store
            .get()?
            .lock()
            .unwrap()
            .get("calls")
            .map(String::as_str),
        Some("1")
    );

    // Compiled once, instantiated twice; errors carry the plug-in's message.
    let compiled = CompiledPlugin::new(PluginBuilder::new(Manifest::new([Wasm::file(fixture(
        "fail",
    ))])))?;
    let mut failing = Plugin::new_from_compiled(&compiled)?;
    let error = failing.call::<&str, &str>("fail", "why").unwrap_err();
    let (_, rc) = failing
        .call_get_error_code::<&str, &str>("nonzero", "")
        .unwrap_err();
    println!("error: {error}, rc: {rc}");
    assert_eq!(error.to_string(), "failed on purpose: why");
    assert_eq!(rc, 3);

    // A `PathBuf` manifest entry, a pool of instances, the module constants.
    let manifest = Manifest::new([Wasm::file(fixtures_dir().join("count_vowels.wasm"))])
        .with_memory_options(MemoryOptions::new().with_max_var_bytes(1 << 16));
    let compiled = CompiledPlugin::new(PluginBuilder::new(manifest))?;
    let pool = PoolBuilder::new()
        .with_max_instances(2)
        .build(move || Plugin::new_from_compiled(&compiled));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let pool = pool.clone();
            std::thread::spawn(move || -> Result<String, Error> {
                pool.with_plugin(std::time::Duration::from_secs(30), |plugin| {
                    plugin.call::<&str, String>("count_vowels", "aeiou")
                })?
                .ok_or_else(|| Error::msg("no instance within 30 s"))
            })
        })
        .collect();
    for thread in threads {
        let output = thread.join().expect("thread")?;
        assert!(output.contains(r#""count":5"#), "{output}");
    }
    assert!(pool.count() <= 2);
    assert!(pool.function_exists("count_vowels", std::time::Duration::from_secs(1))?);
    assert_eq!(EXTISM_USER_MODULE, "extism:host/user");
    assert_eq!(EXTISM_ENV_MODULE, "extism:host/env");
    println!("extism API {}", extism_version());

    // Borrowed host-function arguments and the CurrentPlugin error/vars accessors.
    let mut plugin = Plugin::new(
        Manifest::new([Wasm::file(fixtures_dir().join("host_fns.wasm"))]),
        [
            Function::new("hello_world", [PTR], [PTR], UserData::default(), remember),
            Function::new("panic_now", [PTR], [PTR], UserData::default(), remember),
            Function::new("shout", [PTR], [PTR], UserData::default(), count_bytes)
                .with_namespace("example:other"),
        ],
        false,
    )?;
    let echoed: String = plugin.call("call_host", "kept")?;
    assert_eq!(echoed, "kept");
    let refused = plugin
        .call::<&str, String>("call_host", "fail")
        .unwrap_err();
    assert!(
        refused.to_string().contains("refused by the host"),
        "{refused}"
    );
    let length: String = plugin.call("call_other", "12345")?;
    assert_eq!(length, "5");
    assert!(!plugin.has_wasi());

    // extism-convert's `Json` and a type derived with its macros, through the plug-in
    // (`call_host` hands its input to `hello_world` and returns its answer).
    let mut plugin = Plugin::new(
        Manifest::new([Wasm::file(fixtures_dir().join("host_fns.wasm"))]),
        [
            Function::new("hello_world", [PTR], [PTR], UserData::default(), run_tool),
            Function::new("panic_now", [PTR], [PTR], UserData::default(), run_tool),
            Function::new("shout", [PTR], [PTR], UserData::default(), shout)
                .with_namespace("example:other"),
        ],
        false,
    )?;
    let call = ToolCall {
        tool: "search".to_string(),
        arguments: vec!["rust".to_string()],
    };
    let answer: ToolCall = plugin.call("call_host", &call)?;
    assert_eq!(answer.arguments, ["rust", "ran search"]);
    let extism_convert::Json(again): extism_convert::Json<ToolCall> =
        plugin.call("call_host", extism_convert::Json(&call))?;
    assert_eq!(again, answer);
    // The host's own encoding as input and output of the same call.
    let Compact(compact): Compact<ToolCall> = plugin.call("call_host", Compact(&again))?;
    assert_eq!(compact.arguments, ["rust", "ran search", "ran search"]);
    println!("the extism-style host ran on interplug");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_extism_style_host_runs_unchanged() {
        super::run().expect("runs");
    }
}
