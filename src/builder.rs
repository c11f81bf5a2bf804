//! `PluginBuilder`: the options a plug-in is created with.

use crate::{
    current_plugin::CurrentPlugin, function::Function, limits::Clock, manifest::Manifest,
    wasm_input::WasmInput, Error,
};
use alloc::{borrow::Cow, string::String, sync::Arc, vec::Vec};

/// Builds a [`Plugin`](crate::Plugin) or [`CompiledPlugin`](crate::CompiledPlugin) step
/// by step: [`PluginBuilder::build`] instantiates, [`PluginBuilder::compile`] compiles
/// for many instances.
pub struct PluginBuilder<'a> {
    pub(crate) source: WasmInput<'a>,
    pub(crate) functions: Vec<Function>,
    pub(crate) options: Options,
}

/// Settings chosen on the builder.
#[derive(Clone)]
pub(crate) struct Options {
    pub(crate) wasi: bool,
    pub(crate) fuel_limit: Option<u64>,
    pub(crate) interruptible: bool,
    pub(crate) clock: Option<Arc<dyn Clock>>,
    pub(crate) http_response_headers: bool,
    pub(crate) wasi_output: bool,
    pub(crate) bulk_io: bool,
}

impl<'a> PluginBuilder<'a> {
    /// Starts from module bytes or a manifest.
    pub fn new(source: impl Into<WasmInput<'a>>) -> Self {
        PluginBuilder {
            source: source.into(),
            functions: Vec::new(),
            options: Options {
                wasi: false,
                fuel_limit: None,
                interruptible: true,
                clock: crate::limits::default_clock(),
                http_response_headers: false,
                wasi_output: wasi_output_from_env(),
                bulk_io: bulk_io_from_env(),
            },
        }
    }

    /// Replaces the source with a manifest.
    pub fn with_manifest(mut self, manifest: impl Into<Manifest>) -> Self {
        self.source = WasmInput::Manifest(Cow::Owned(manifest.into()));
        self
    }

    /// Enables WASI preview 1.
    pub fn with_wasi(mut self, wasi: bool) -> Self {
        self.options.wasi = wasi;
        self
    }

    /// Adds a host function.
    pub fn with_function<T: 'static + Send, F>(
        mut self,
        name: impl Into<String>,
        params: impl IntoIterator<Item = crate::ValType>,
        results: impl IntoIterator<Item = crate::ValType>,
        user_data: crate::UserData<T>,
        f: F,
    ) -> Self
    where
        F: Fn(
                &mut CurrentPlugin,
                &[crate::Val],
                &mut [crate::Val],
                crate::UserData<T>,
            ) -> Result<(), Error>
            + Send
            + Sync
            + 'static,
    {
        self.functions
            .push(Function::new(name, params, results, user_data, f));
        self
    }

    /// Adds a host function in another namespace.
    pub fn with_function_in_namespace<T: 'static + Send, F>(
        mut self,
        namespace: impl Into<String>,
        name: impl Into<String>,
        params: impl IntoIterator<Item = crate::ValType>,
        results: impl IntoIterator<Item = crate::ValType>,
        user_data: crate::UserData<T>,
        f: F,
    ) -> Self
    where
        F: Fn(
                &mut CurrentPlugin,
                &[crate::Val],
                &mut [crate::Val],
                crate::UserData<T>,
            ) -> Result<(), Error>
            + Send
            + Sync
            + 'static,
    {
        self.functions
            .push(Function::new(name, params, results, user_data, f).with_namespace(namespace));
        self
    }

    /// Adds host functions.
    pub fn with_functions(mut self, functions: impl IntoIterator<Item = Function>) -> Self {
        self.functions.extend(functions);
        self
    }

    /// Gives every call `fuel` units of fuel; a call that spends them fails.
    pub fn with_fuel_limit(mut self, fuel: u64) -> Self {
        self.options.fuel_limit = Some(fuel);
        self
    }

    /// Turns timeout and cancel support off (it is on by default). Without it, calls
    /// run slightly faster but `timeout_ms` and [`CancelHandle`] have no effect.
    /// A fuel limit turns it back on.
    pub fn with_interruption(mut self, interruptible: bool) -> Self {
        self.options.interruptible = interruptible;
        self
    }

    /// The clock used for `timeout_ms` (needed for timeouts without `std`).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.options.clock = Some(clock);
        self
    }

    /// Lets plug-ins read HTTP response headers with `http_headers`.
    pub fn with_http_response_headers(mut self, allow: bool) -> Self {
        self.options.http_response_headers = allow;
        self
    }

    /// Passes the plug-in's WASI stdout and stderr through to the host's (off by
    /// default unless `EXTISM_ENABLE_WASI_OUTPUT` is set).
    pub fn with_wasi_output(mut self, enable: bool) -> Self {
        self.options.wasi_output = enable;
        self
    }

    /// Turns the bulk-I/O rewrite on or off (on by default unless the environment
    /// variable `INTERPLUG_BULK_IO` is `0` or `off`). When on, the copy loops the
    /// Extism PDKs run around `input_load_u64`, `load_u64` and `store_u64` (and their
    /// `u8` forms) are given one bulk copy each when the plug-in is compiled
    /// ([`crate::rewrite::bulk_io`]); plug-ins behave the same either way, only faster
    /// and with less fuel used for large inputs and outputs. Without `std` there is no
    /// rewriting.
    ///
    /// # Examples
    ///
    /// ```
    /// use interplug::PluginBuilder;
    /// let wat = r#"(module (func (export "noop") (result i32) i32.const 0))"#;
    /// let mut plugin = PluginBuilder::new(wat).with_bulk_io(false).build()?;
    /// assert_eq!(plugin.call::<&str, &str>("noop", "")?, "");
    /// # Ok::<(), interplug::Error>(())
    /// ```
    pub fn with_bulk_io(mut self, enable: bool) -> Self {
        self.options.bulk_io = enable;
        self
    }
}

/// False when `INTERPLUG_BULK_IO` is `0` or `off` (read once per process).
fn bulk_io_from_env() -> bool {
    #[cfg(feature = "std")]
    {
        static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *ON.get_or_init(|| {
            !matches!(
                std::env::var("INTERPLUG_BULK_IO").as_deref(),
                Ok("0") | Ok("off")
            )
        })
    }
    #[cfg(not(feature = "std"))]
    {
        false
    }
}

/// True when `EXTISM_ENABLE_WASI_OUTPUT` asks for plug-in output.
fn wasi_output_from_env() -> bool {
    #[cfg(feature = "std")]
    {
        std::env::var_os("EXTISM_ENABLE_WASI_OUTPUT").is_some()
    }
    #[cfg(not(feature = "std"))]
    {
        false
    }
}
