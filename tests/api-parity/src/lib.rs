//! Every public item of the `extism` crate 1.41 (with `extism-manifest` and
//! `extism-convert`), used as extism's documentation and examples use it, compiled
//! against interplug renamed to `extism`. A missing item or a narrower signature fails
//! the build of this crate; the tests run what can run offline.
//!
//! One function per area; each `#[test]` runs it. Items that need the network
//! (`Wasm::url`) are only compiled.
//!
//! Paths are extism's, except `HttpRequest` and `MemoryOptions` (an extism host takes
//! them from `extism-manifest`; interplug also exports them at the root) and
//! interplug's own extras (`Lock`, `DEFAULT_MAX_VAR_BYTES`), which are checked too.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use extism::convert::{Base64, FromBytes, FromBytesOwned, Json, Msgpack, Prost, Raw, ToBytes};
use extism::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The directory of the committed test plug-ins.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec-tests/fixtures")
}

fn count_vowels() -> Wasm {
    // `impl AsRef<Path>`: a `PathBuf` from `join`.
    Wasm::file(fixtures().join("count_vowels.wasm"))
}

/// `Manifest`, `Wasm`, `WasmMetadata`, `HttpRequest`, `MemoryOptions` and their builders.
pub fn manifest_items() -> Manifest {
    let data = std::fs::read(fixtures().join("count_vowels.wasm")).unwrap();
    let by_path: Wasm = fixtures().join("echo.wasm").into(); // From<PathBuf>
    let by_bytes: Wasm = data.clone().into(); // From<Vec<u8>>
    let by_request: Wasm = HttpRequest::new("https://example.com/x.wasm")
        .with_method("GET")
        .with_header("Authorization", "Bearer x")
        .into(); // From<HttpRequest>
    let mut named = Wasm::data(data).with_name("main").with_hash("00");
    named.meta_mut().hash = None;
    let _: &WasmMetadata = named.meta();
    let _url = Wasm::url("https://example.com/plugin.wasm");
    let _http = Wasm::http(HttpRequest::new("https://example.com/plugin.wasm"));
    let _str_path = Wasm::file("plugin.wasm");
    let _string_path = Wasm::file(String::from("plugin.wasm"));
    let _ref_path = Wasm::file(Path::new("plugin.wasm"));
    if let Wasm::File { path, meta } = &by_path {
        let _: &PathBuf = path;
        let _: &Option<String> = &meta.name;
    }
    let _ = (by_bytes, by_request);

    let memory = MemoryOptions::new()
        .with_max_pages(512)
        .with_max_http_response_bytes(1 << 20)
        .with_max_var_bytes(1 << 16);
    let config = [("a", "1"), ("b", "2")];
    let manifest = Manifest::new([count_vowels()])
        .with_wasm(Wasm::file(fixtures().join("echo.wasm")).with_name("echo"))
        .with_memory_options(memory)
        .with_memory_max(512)
        .with_allowed_host("example.com")
        .with_allowed_hosts(["*.example.org".to_string()].into_iter())
        .with_allowed_path("/tmp".to_string(), "/tmp")
        .with_allowed_path("ro:/var".to_string(), PathBuf::from("/var"))
        .with_allowed_paths([("/tmp".to_string(), PathBuf::from("/data"))].into_iter())
        .with_config(config.into_iter())
        .with_config_key("vowels", "aeiou")
        .with_timeout(Duration::from_secs(5));
    let _: &Vec<Wasm> = &manifest.wasm;
    let _: Option<u32> = manifest.memory.max_pages;
    let _: Option<u64> = manifest.memory.max_var_bytes;
    let _: &std::collections::BTreeMap<String, String> = &manifest.config;
    let _: &Option<Vec<String>> = &manifest.allowed_hosts;
    let _: &Option<std::collections::BTreeMap<String, PathBuf>> = &manifest.allowed_paths;
    let _: Option<u64> = manifest.timeout_ms;
    let _: std::borrow::Cow<[u8]> = (&manifest).into();
    let json = serde_json::to_string(&manifest).unwrap();
    let back: Manifest = serde_json::from_str(&json).unwrap();
    assert_eq!(back, manifest);
    manifest.disallow_all_hosts()
}

// `host_fn!` in both forms, with user data, a borrowed `&str` argument, no result.
host_fn!(pub greet(user_data: Vec<String>; name: &str) -> String {
    let log = user_data.get()?;
    log.lock().unwrap().push(name.to_string());
    Ok(format!("Hello, {name}!"))
});
host_fn!(shout(input: Vec<u8>) -> Vec<u8> { Ok(input.to_ascii_uppercase()) });
host_fn!(pub nothing(_input: String) { Ok(()) });

/// `Function`, `UserData`, `Val`, `ValType`, `PTR`, `CurrentPlugin` in a raw host
/// function.
pub fn function_items() -> Vec<Function> {
    let counter: UserData<u64> = UserData::new(0);
    let _default: UserData<u64> = UserData::default();
    let _lock: std::sync::Arc<Lock<u64>> = counter.get().unwrap();
    let raw = Function::new(
        "hello_world",
        [ValType::I64],
        [PTR],
        counter.clone(),
        |plugin: &mut CurrentPlugin, inputs: &[Val], outputs: &mut [Val], data: UserData<u64>| {
            *data.get()?.lock().unwrap() += 1;
            let input: String = plugin.memory_get_val(&inputs[0])?;
            let _: &str = plugin.memory_get_val(&inputs[0])?;
            let handle = plugin.memory_new(format!("Hello, {input}!"))?;
            let _: Option<MemoryHandle> = plugin.memory_from_val(&inputs[0]);
            outputs[0] = plugin.memory_to_val(handle);
            let _ = Val::I64(0).unwrap_i64() + inputs[0].i64().unwrap_or(0);
            Ok(())
        },
    );
    let mut other = Function::new("shout", [PTR], [PTR], UserData::<()>::default(), shout)
        .with_namespace("example:other");
    other.set_namespace("example:other");
    assert_eq!(other.namespace(), Some("example:other"));
    assert_eq!(other.name(), "shout");
    let _: &[ValType] = other.params();
    let _: &[ValType] = other.results();
    let _types = [
        ValType::I32,
        ValType::I64,
        ValType::F32,
        ValType::F64,
        ValType::V128,
        ValType::FuncRef,
        ValType::ExternRef,
    ];
    let _vals = [Val::I32(1), Val::I64(2), Val::F32(0), Val::F64(0)];
    vec![raw, other]
}

/// Every `CurrentPlugin` method, inside a host function the `host_fns` plug-in calls.
pub fn current_plugin_items(
    plugin: &mut CurrentPlugin,
    inputs: &[Val],
    outputs: &mut [Val],
    _data: UserData<()>,
) -> Result<(), Error> {
    let _: uuid_like::Id = plugin.id().into();
    let handle = plugin.memory_handle(inputs[0].unwrap_i64() as u64).unwrap();
    let _: &[u8] = plugin.memory_bytes(handle)?;
    let _: &mut [u8] = plugin.memory_bytes_mut(handle)?;
    let _: &str = plugin.memory_str(handle)?;
    let _: &mut str = plugin.memory_str_mut(handle)?;
    let _: String = plugin.memory_get(handle)?;
    let _: u64 = plugin.memory_length(handle.offset())?;
    let _: u64 = plugin.memory_length_unsafe(handle.offset())?;
    let scratch = plugin.memory_alloc(16)?;
    plugin.memory_free(scratch)?;
    plugin.vars_mut().insert("seen".into(), b"yes".to_vec());
    let _: &std::collections::BTreeMap<String, Vec<u8>> = plugin.vars();
    let _: &Manifest = plugin.manifest();
    let _: Option<Duration> = plugin.time_remaining();
    plugin.clear_error();
    assert!(plugin.get_error().is_none());
    let _: Result<&mut u32, Error> = plugin.host_context::<u32>();
    let input: Vec<u8> = plugin.memory_get_val(&inputs[0])?;
    plugin.memory_set_val(&mut outputs[0], input)?;
    let _ = (
        handle.offset(),
        handle.len(),
        handle.is_empty(),
        MemoryHandle::null(),
    );
    Ok(())
}

/// A tiny stand-in for `uuid::Uuid` so this crate needs no uuid dependency.
mod uuid_like {
    pub struct Id;
    impl<T: std::fmt::Display> From<T> for Id {
        fn from(_: T) -> Self {
            Id
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize, ToBytes, FromBytes, Debug, PartialEq)]
#[encoding(Json)]
pub struct Count {
    pub count: u32,
    pub total: u32,
    pub vowels: String,
}

extism::convert::encoding!(pub PrettyJson, serde_json::to_vec_pretty, serde_json::from_slice);

typed_plugin!(pub CountVowels {
    count_vowels(&str) -> Json<Count>;
});

typed_plugin!(pub Generic {
    count_vowels<'b, T: ToBytes<'b>>(T) -> Count;
});

/// The convert module: wrappers, traits, derives, `encoding!`.
pub fn convert_items() -> Result<(), Error> {
    let json = Json(serde_json::json!({"a": 1})).to_bytes()?;
    let Json(value): Json<serde_json::Value> = FromBytes::from_bytes(&json)?;
    assert_eq!(value["a"], 1);
    let _ = Json::from(1u8).into_inner();
    let packed = Msgpack(vec![1u8, 2]).to_bytes()?;
    let Msgpack(back): Msgpack<Vec<u8>> = FromBytes::from_bytes(&packed)?;
    assert_eq!(back, [1, 2]);
    let b64 = Base64(b"hi").to_bytes()?;
    let Base64(text): Base64<String> = FromBytesOwned::from_bytes_owned(b64.as_bytes())?;
    assert_eq!(text, "hi");
    let n = 7u32;
    let raw = Raw(&n).to_bytes()?;
    let Raw(m): Raw<u32> = FromBytes::from_bytes(raw)?;
    assert_eq!(*m, 7);
    let proto = Prost(String::from("hi")).to_bytes()?;
    let Prost(text): Prost<String> = FromBytes::from_bytes(&proto)?;
    assert_eq!(text, "hi");
    let pretty = PrettyJson(vec![1]).to_bytes()?;
    let PrettyJson(v): PrettyJson<Vec<u8>> = FromBytes::from_bytes(&pretty)?;
    assert_eq!(v, [1]);
    let _: bool = bool::from_bytes_owned(&true.to_bytes()?)?;
    let _: Option<String> = FromBytes::from_bytes(b"")?;
    let _: Box<[u8]> = FromBytesOwned::from_bytes_owned(b"x")?;
    let count = Count {
        count: 1,
        total: 1,
        vowels: "a".into(),
    };
    let bytes = count.to_bytes()?;
    assert_eq!(Count::from_bytes(&bytes)?, count);
    Ok(())
}

/// A host that names the `extism-convert` crate itself, as hosts written for extism do
/// (`extism_convert::Json` in `host_fn!`s, its derives, its `encoding!`): those types
/// are the `extism::convert` ones.
pub mod with_extism_convert {
    use extism::{host_fn, CurrentPlugin, Error, Function, Manifest, Plugin, UserData, Val, PTR};
    use extism_convert::{FromBytes, FromBytesOwned, Json, MemoryHandle, ToBytes};

    /// Derived with extism-convert's own macros (they name `::extism_convert`).
    #[derive(
        serde::Serialize,
        serde::Deserialize,
        extism_convert::ToBytes,
        extism_convert::FromBytes,
        Debug,
        PartialEq,
    )]
    #[encoding(Json)]
    pub struct Greeting {
        pub name: String,
        pub times: u32,
    }

    extism_convert::encoding!(pub Compact, serde_json::to_vec, serde_json::from_slice);

    // Arguments and results of extism-convert's types, as hyper-mcp's host functions.
    host_fn!(pub greet_json(request: Json<Greeting>) -> Json<Greeting> {
        let Json(mut greeting) = request;
        greeting.name = format!("Hello, {}!", greeting.name);
        greeting.times += 1;
        Ok(Json(greeting))
    });

    host_fn!(pub greet_derived(request: Greeting) -> Greeting {
        Ok(Greeting { times: request.times * 10, ..request })
    });

    /// `CurrentPlugin`'s conversions with extism-convert's traits and handle.
    fn handles(
        plugin: &mut CurrentPlugin,
        inputs: &[Val],
        outputs: &mut [Val],
        _: UserData<()>,
    ) -> Result<(), Error> {
        let Json(greeting): Json<Greeting> = plugin.memory_get_val(&inputs[0])?;
        let handle: MemoryHandle = plugin.memory_new(Compact(&greeting))?;
        let again: Greeting = plugin.memory_get(handle)?;
        assert_eq!(again, greeting);
        plugin.memory_set_val(&mut outputs[0], Json(greeting))
    }

    /// The same item under both paths: these only compile when the types are one.
    fn one_type<'a, T: extism::ToBytes<'a> + ToBytes<'a>>(value: T) -> T {
        value
    }

    pub fn items(manifest: &Manifest) -> Result<(), Error> {
        let _: extism::convert::Json<u8> = extism_convert::Json(1u8);
        let _: extism_convert::Msgpack<u8> = extism::convert::Msgpack(1u8);
        let _: extism::convert::MemoryHandle = extism_convert::MemoryHandle::null();
        let _: fn(&[u8]) -> Result<Greeting, extism::Error> =
            <Greeting as extism::FromBytesOwned>::from_bytes_owned;
        let greeting = Greeting {
            name: "Ada".into(),
            times: 1,
        };
        let bytes = one_type(&greeting).to_bytes()?;
        assert_eq!(Greeting::from_bytes_owned(&bytes)?, greeting);
        let bytes = one_type(Json(&greeting)).to_bytes()?;
        let Compact(back): Compact<Greeting> = FromBytes::from_bytes(&bytes)?;
        assert_eq!(back, greeting);

        let call = |function: Function, input: &Greeting| -> Result<Greeting, Error> {
            let unused =
                |name: &str| Function::new(name, [PTR], [PTR], UserData::default(), handles);
            let shout = unused("shout").with_namespace("example:other");
            let mut plugin = Plugin::new(manifest, [function, unused("panic_now"), shout], false)?;
            // extism-convert's wrappers and derived types as call input and output.
            let Json(out): Json<Greeting> = plugin.call("call_host", Json(input))?;
            let derived: Greeting = plugin.call("call_host", input)?;
            assert_eq!(derived, out);
            Ok(out)
        };
        let hello = "hello_world";
        let out = call(
            Function::new(hello, [PTR], [PTR], UserData::default(), greet_json),
            &greeting,
        )?;
        assert_eq!((out.name.as_str(), out.times), ("Hello, Ada!", 2));
        let out = call(
            Function::new(hello, [PTR], [PTR], UserData::default(), greet_derived),
            &greeting,
        )?;
        assert_eq!((out.name.as_str(), out.times), ("Ada", 10));
        let out = call(
            Function::new(hello, [PTR], [PTR], UserData::default(), handles),
            &greeting,
        )?;
        assert_eq!(out, greeting);
        Ok(())
    }
}

/// `Plugin`, `PluginBuilder`, `CompiledPlugin`, `CancelHandle`, calls of every kind.
pub fn plugin_items() -> Result<(), Error> {
    let mut manifest = Manifest::new([count_vowels()]);
    let bytes = std::fs::read(fixtures().join("count_vowels.wasm"))?;
    let _ = Plugin::new(&bytes, [], false)?; // &Vec<u8>
    let _ = Plugin::new(bytes.as_slice(), [], false)?; // &[u8]
    let _ = Plugin::new(bytes.clone(), [], false)?; // Vec<u8>
    let _ = Plugin::new(&mut manifest, [], false)?; // &mut Manifest
    let _ = Plugin::new(manifest.clone(), [], false)?; // Manifest
    let wat = r#"(module (func (export "noop") (result i32) i32.const 0))"#;
    let _ = Plugin::new(wat, [], false)?; // &str
    let mut plugin = Plugin::new(&manifest, [], false)?;
    let _: uuid_like::Id = plugin.id.into();
    assert!(plugin.function_exists("count_vowels"));
    assert!(!plugin.has_wasi());
    let out = plugin.call::<&str, &str>("count_vowels", "hello")?;
    assert!(out.contains(r#""count":2"#));
    let Json(count): Json<Count> = plugin.call("count_vowels", "aa")?;
    assert_eq!(count.count, 2);
    let count: Count = plugin.call("count_vowels", "a")?; // derived FromBytes
    assert_eq!(count.count, 1);
    let _: String = plugin.call_with_host_context("count_vowels", "a", 5u32)?;
    let (_, code) = plugin
        .call_get_error_code::<&str, &str>("no_such_function", "")
        .unwrap_err();
    assert_eq!(code, -1);
    plugin.reset()?;
    let handle: CancelHandle = plugin.cancel_handle();
    assert_eq!(handle.id, plugin.id);
    let _ = handle.cancel();
    let _: Option<u64> = plugin.fuel_consumed();

    let builder = PluginBuilder::new(&manifest)
        .with_wasi(true)
        .with_function(
            "x",
            [PTR],
            [PTR],
            UserData::new(()),
            |_: &mut CurrentPlugin, _: &[Val], _: &mut [Val], _: UserData<()>| Ok(()),
        )
        .with_function_in_namespace(
            "example:other",
            "y",
            [PTR],
            [PTR],
            UserData::new(()),
            |_: &mut CurrentPlugin, _: &[Val], _: &mut [Val], _: UserData<()>| Ok(()),
        )
        .with_functions(function_items())
        .with_fuel_limit(u64::MAX / 2)
        .with_initialization_fuel_limit(1_000_000_000)
        .with_http_response_headers(true)
        .with_cache_disabled()
        .with_cache_config(PathBuf::from("/tmp/cache.toml"))
        .with_debug_info()
        .with_coredump("/tmp/core")
        .with_memdump(PathBuf::from("/tmp/mem"))
        .with_profiling_strategy("any value: wasmtime's enum in an extism host")
        .with_debug_options(DebugOptions::default());
    let again = builder.clone().build()?;
    assert!(again.has_wasi());
    let compiled: CompiledPlugin = CompiledPlugin::new(builder.clone())?;
    let _ = Plugin::new_from_compiled(&compiled)?;
    let _ = builder.compile()?;

    let mut typed: CountVowels = Plugin::new(&manifest, [], false)?.try_into()?;
    let Json(count) = typed.count_vowels("ooo")?;
    assert_eq!(count.count, 3);
    let _plain: Plugin = typed.into();
    let mut generic: Generic = Plugin::new(&manifest, [], false)?.try_into()?;
    assert_eq!(generic.count_vowels("e")?.count, 1);
    Ok(())
}

/// `Pool`, `PoolBuilder`, `PoolPlugin`.
pub fn pool_items() -> Result<(), Error> {
    let compiled = CompiledPlugin::new(PluginBuilder::new(Manifest::new([count_vowels()])))?;
    let source = compiled.clone();
    let pool: Pool = PoolBuilder::new()
        .with_max_instances(2)
        .build(move || Plugin::new_from_compiled(&source));
    let _default = Pool::new(move || Plugin::new_from_compiled(&compiled));
    let _ = Pool::new_from_builder(|| Err(Error::msg("never")), PoolBuilder::default());
    let builder = PoolBuilder::default();
    let _: usize = builder.max_instances;
    let mut lent: PoolPlugin = pool.get(Duration::from_secs(1))?.unwrap();
    let out: String = lent.call("count_vowels", "a")?;
    assert!(out.contains(r#""count":1"#));
    let _: uuid_like::Id = lent.id().into();
    assert!(lent.function_exists("count_vowels")); // Deref to Plugin
    drop(lent);
    let output = pool.with_plugin(Duration::from_secs(1), |plugin| {
        plugin.call::<&str, String>("count_vowels", "ee")
    })?;
    assert!(output.unwrap().contains(r#""count":2"#));
    assert!(pool.function_exists("count_vowels", Duration::from_secs(1))?);
    assert_eq!(pool.count(), 1);
    Ok(())
}

/// Constants, free functions, the `sdk` types, `Error`.
pub fn free_items() -> Result<(), Error> {
    assert_eq!(EXTISM_ENV_MODULE, "extism:host/env");
    assert_eq!(EXTISM_USER_MODULE, "extism:host/user");
    let _: &str = extism_version();
    let _: u64 = DEFAULT_MAX_VAR_BYTES;
    let _: extism::sdk::Size = 0;
    let _: extism::sdk::ExtismMemoryHandle = 0;
    assert_eq!(extism::sdk::EXTISM_SUCCESS, 0);
    let error: Error = anyhow_like();
    assert!(error.to_string().contains("x"));
    Ok(())
}

fn anyhow_like() -> Error {
    Error::msg("x")
}

fn assert_send_sync<T: Send + Sync>() {}

/// The thread-safety extism promises.
pub fn thread_safety() {
    assert_send_sync::<Plugin>();
    assert_send_sync::<CompiledPlugin>();
    assert_send_sync::<CancelHandle>();
    assert_send_sync::<Pool>();
    assert_send_sync::<UserData<u64>>();
    assert_send_sync::<Function>();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest() {
        manifest_items();
    }

    #[test]
    fn functions_and_current_plugin() -> Result<(), Error> {
        let _ = function_items();
        let manifest = Manifest::new([Wasm::file(fixtures().join("host_fns.wasm"))]);
        let probe = Function::new(
            "hello_world",
            [PTR],
            [PTR],
            UserData::default(),
            current_plugin_items,
        );
        let shout = Function::new("shout", [PTR], [PTR], UserData::default(), shout)
            .with_namespace("example:other");
        let unused = Function::new("panic_now", [PTR], [PTR], UserData::default(), nothing);
        let mut plugin = Plugin::new(&manifest, [probe, shout.clone(), unused.clone()], false)?;
        let echoed: String = plugin.call("call_host", "probe")?;
        assert_eq!(echoed, "probe");
        let shouted: String = plugin.call("call_other", "hey")?;
        assert_eq!(shouted, "HEY");

        let names = UserData::new(Vec::new());
        let greet = Function::new("hello_world", [PTR], [PTR], names.clone(), greet);
        let mut plugin = Plugin::new(&manifest, [greet, shout, unused], false)?;
        let out: String = plugin.call("call_host", "Ada")?;
        assert_eq!(out, "Hello, Ada!");
        assert_eq!(*names.get()?.lock().unwrap(), ["Ada"]);
        Ok(())
    }

    #[test]
    fn convert() -> Result<(), Error> {
        convert_items()
    }

    #[test]
    fn extism_convert_types_are_extisms() -> Result<(), Error> {
        let manifest = Manifest::new([Wasm::file(fixtures().join("host_fns.wasm"))]);
        with_extism_convert::items(&manifest)
    }

    #[test]
    fn plugins() -> Result<(), Error> {
        plugin_items()
    }

    #[test]
    fn pools() -> Result<(), Error> {
        pool_items()
    }

    #[test]
    fn free() -> Result<(), Error> {
        thread_safety();
        free_items()
    }
}
