//! `Plugin`: an instance and the Extism call API.

use crate::{
    error::{bail_kind, fail},
    host::convert::{decode, encode, FromBytes, ToBytes},
    host::current_plugin::CurrentPlugin,
    host::function::Function,
    kernel::abi::is_plugin_function,
    kernel::abi::ValType,
    limits::call::CallLimits,
    limits::cancel::CancelHandle,
    manifest::input::WasmInput,
    manifest::Manifest,
    plugin::builder::PluginBuilder,
    plugin::compiled::CompiledPlugin,
    plugin::run::{run, CallFailure},
    plugin::store::PluginStore,
    Error,
};
use alloc::{
    boxed::Box,
    format,
    string::{String, ToString},
    vec::Vec,
};
use core::any::Any;
use wasmi::{Func, Instance};

/// A plug-in instance: call its functions.
///
/// Made with [`Plugin::new`] (bytes or a [`Manifest`], host functions, WASI on or
/// off), [`PluginBuilder::build`] or [`Plugin::new_from_compiled`]. As in the official
/// runtime, the modules are instantiated at the first call, not at creation: start
/// functions and constructors (`_initialize`...) run then, and what they raise (a
/// trap, a memory budget below the module's initial memory) is that call's error,
/// again at every call until an instantiation succeeds. [`Plugin::instantiate`] does
/// it earlier for a host that wants such errors at once. A call that fails (error,
/// trap, timeout, out of memory) leaves the plug-in usable; vars and config survive
/// calls.
///
/// # Errors
///
/// Creation fails when a module cannot be read or is invalid, or an import is missing;
/// a call fails when the plug-in cannot be instantiated, the function does not exist,
/// the plug-in sets an error or returns a non-zero code, traps, or runs out of time,
/// fuel or memory. Each error carries an [`ErrorKind`](crate::ErrorKind).
///
/// # Examples
///
/// ```
/// use interplug::{Manifest, Plugin, Wasm};
/// let manifest = Manifest::new([Wasm::file("spec-tests/fixtures/count_vowels.wasm")])
///     .with_config_key("vowels", "aeiouy");
/// let mut plugin = Plugin::new(&manifest, [], false)?;
/// let output: &str = plugin.call("count_vowels", "yay")?;
/// assert_eq!(output, r#"{"count":3,"total":3,"vowels":"aeiouy"}"#);
/// assert!(plugin.call::<&str, &str>("no_such_function", "").is_err());
/// # Ok::<(), interplug::Error>(())
/// ```
pub struct Plugin {
    pub(super) compiled: CompiledPlugin,
    pub(super) store: PluginStore<CurrentPlugin>,
    /// `None` until the first call (or [`Plugin::instantiate`]) instantiates the
    /// modules in `store`, as the official runtime does.
    pub(super) instance: Option<Instance>,
    cancel: CancelHandle,
    /// The next call needs a fresh store and instance: the last call may have left
    /// the instance inconsistent, or an instantiation failed part of the way.
    pub(super) needs_rebuild: bool,
    pub(super) fuel_consumed: Option<u64>,
    /// The plug-in function called last, so that calling it again skips the export
    /// lookup and type check. Cleared with the instance.
    last_function: Option<PluginFunction>,
    /// This plug-in's id.
    pub id: uuid::Uuid,
}

/// An export checked to be a plug-in function (`() -> i32` or `() -> ()`).
struct PluginFunction {
    name: String,
    func: Func,
    /// Whether it returns the i32 return code.
    returns_code: bool,
}

impl core::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Plugin")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A new plug-in id.
fn new_id() -> uuid::Uuid {
    #[cfg(feature = "std")]
    {
        uuid::Uuid::new_v4()
    }
    #[cfg(not(feature = "std"))]
    {
        // A spin lock around a u64, not an `AtomicU64`: 32-bit targets such as
        // thumbv7em and riscv32imac have no 64-bit atomics.
        static COUNTER: spin::Mutex<u64> = spin::Mutex::new(1);
        let n = {
            let mut next = COUNTER.lock();
            let n = *next;
            *next = n.wrapping_add(1);
            n
        };
        uuid::Uuid::from_u64_pair(0x696e_7465_7270_6c75, n)
    }
}

impl PluginBuilder<'_> {
    /// Compiles the plug-in and makes its state; the first call instantiates it.
    ///
    /// # Errors
    ///
    /// As [`PluginBuilder::compile`], and as [`Plugin::new_from_compiled`].
    ///
    /// # Examples
    ///
    /// ```
    /// use interplug::PluginBuilder;
    /// let wat = r#"(module (func (export "noop") (result i32) i32.const 0))"#;
    /// let mut plugin = PluginBuilder::new(wat).with_fuel_limit(1_000).build()?;
    /// plugin.call::<&str, &[u8]>("noop", "")?;
    /// assert!(plugin.fuel_consumed().is_some());
    /// # Ok::<(), interplug::Error>(())
    /// ```
    pub fn build(self) -> Result<Plugin, Error> {
        let (_, plugin) = CompiledPlugin::compile_then(
            self.source,
            self.functions,
            self.options,
            Plugin::new_from_compiled,
        )?;
        Ok(plugin)
    }
}

impl Plugin {
    /// Creates a plug-in from module bytes or a manifest, with host functions, and
    /// WASI when `with_wasi`.
    ///
    /// # Errors
    ///
    /// As [`PluginBuilder::build`].
    pub fn new<'a>(
        source: impl Into<WasmInput<'a>>,
        functions: impl IntoIterator<Item = Function>,
        with_wasi: bool,
    ) -> Result<Plugin, Error> {
        PluginBuilder::new(source)
            .with_functions(functions)
            .with_wasi(with_wasi)
            .build()
    }

    /// Creates a plug-in from a manifest.
    ///
    /// # Errors
    ///
    /// As [`Plugin::new`].
    pub fn new_with_manifest(
        manifest: &Manifest,
        functions: impl IntoIterator<Item = Function>,
        with_wasi: bool,
    ) -> Result<Plugin, Error> {
        Plugin::new(manifest, functions, with_wasi)
    }

    /// A new plug-in of a compiled one: its own state (vars, config, Extism memory,
    /// WASI context); the first call instantiates the modules.
    ///
    /// # Errors
    ///
    /// With WASI, `NotFound`, `PermissionDenied` or `Io` when an `allowed_paths`
    /// directory cannot be opened (the I/O error is the source). The kinds are
    /// [`ErrorKind`](crate::ErrorKind)'s. Instantiation errors come from the first call (or
    /// [`Plugin::instantiate`]).
    pub fn new_from_compiled(compiled: &CompiledPlugin) -> Result<Plugin, Error> {
        let id = new_id();
        let cancel = CancelHandle::new(id);
        let store = compiled.new_store(id, &cancel)?;
        log::debug!(target: "extism::plugin", "{id} created");
        Ok(Plugin {
            compiled: compiled.clone(),
            store,
            instance: None,
            cancel,
            needs_rebuild: false,
            fuel_consumed: None,
            last_function: None,
            id,
        })
    }

    /// A handle that cancels this plug-in's running call from another thread.
    pub fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    /// True when `name` is a plug-in function: an export of the main module of type
    /// `() -> i32` or `() -> ()`. Answered from the compiled module, without
    /// instantiating it.
    pub fn function_exists(&self, name: impl AsRef<str>) -> bool {
        let Some(wasmi::ExternType::Func(ty)) =
            self.compiled.main_module().get_export(name.as_ref())
        else {
            return false;
        };
        let types = |list: &[wasmi::ValType]| -> Vec<ValType> {
            list.iter().copied().map(ValType::from_wasmi).collect()
        };
        is_plugin_function(&types(ty.params()), &types(ty.results()))
    }

    /// Instantiates the plug-in now, if no call has yet: runs its start functions
    /// and constructors (`_initialize`...) under the limits a call has. Calls do it
    /// themselves, as the official runtime's do; a host calls this to see
    /// instantiation errors before the first call. Nothing happens when the plug-in
    /// has a usable instance.
    ///
    /// # Errors
    ///
    /// `Trap` or `Exit` when a start function or constructor traps or exits;
    /// `Timeout`, `Cancelled`, `OutOfFuel` or `OutOfMemory` when it runs out of time
    /// or is cancelled or goes past its fuel or memory (a `max_pages` below the
    /// module's initial memory is `OutOfMemory`); a host function's error as in
    /// [`Plugin::call`]. The kinds are [`ErrorKind`](crate::ErrorKind)'s. After an error the next call
    /// (or this) tries again on a fresh instance.
    ///
    /// # Examples
    ///
    /// ```
    /// use interplug::{ErrorExt, ErrorKind, Manifest, Plugin, Wasm};
    /// let wat = r#"(module (memory 17) (func (export "noop") (result i32) i32.const 0))"#;
    /// let mut manifest = Manifest::new([Wasm::data(wat)]);
    /// manifest.memory.max_pages = Some(4);
    /// // Created; the 17 pages do not fit in the budget of 4 when instantiating.
    /// let mut plugin = Plugin::new(&manifest, [], false)?;
    /// assert!(plugin.function_exists("noop"));
    /// assert_eq!(plugin.instantiate().unwrap_err().kind(), ErrorKind::OutOfMemory);
    /// # Ok::<(), interplug::Error>(())
    /// ```
    pub fn instantiate(&mut self) -> Result<(), Error> {
        let limits = self.start_limits();
        self.instance_under(&limits).map(|_| ())
    }

    /// The instance, made under `limits` when there is none or the last one must be
    /// rebuilt.
    pub(super) fn instance_under(&mut self, limits: &CallLimits) -> Result<Instance, Error> {
        match self.instance {
            Some(instance) if !self.needs_rebuild => Ok(instance),
            None if !self.needs_rebuild => {
                // The store made at creation: the host state set since (config,
                // vars, ...) is already in it.
                match self.compiled.instantiate_in(&mut self.store, limits) {
                    Ok(instance) => {
                        self.instance = Some(instance);
                        Ok(instance)
                    }
                    Err(error) => {
                        // The store may hold part of the modules: the next try
                        // starts from a fresh one.
                        self.needs_rebuild = true;
                        Err(error)
                    }
                }
            }
            _ => self.reinstantiate_under(limits),
        }
    }

    /// The plug-in function `name` (`() -> i32` or `() -> ()`) of `instance`, and
    /// whether it returns a code; the last one found is remembered.
    pub(super) fn plugin_function(
        &mut self,
        instance: Instance,
        name: &str,
    ) -> Result<(Func, bool), Error> {
        if let Some(last) = self.last_function.as_ref().filter(|f| f.name == name) {
            return Ok((last.func, last.returns_code));
        }
        let (func, returns_code) = self.find_plugin_function(instance, name)?;
        self.last_function = Some(PluginFunction {
            name: name.to_string(),
            func,
            returns_code,
        });
        Ok((func, returns_code))
    }

    /// Looks up the export `name` and checks that it is a plug-in function.
    fn find_plugin_function(&self, instance: Instance, name: &str) -> Result<(Func, bool), Error> {
        let func = instance
            .get_func(&self.store, name)
            .ok_or_else(|| fail!(NotFound, "Function not found: {name}"))?;
        let ty = func.ty(&self.store);
        let types = |list: &[wasmi::ValType]| -> Vec<ValType> {
            list.iter().copied().map(ValType::from_wasmi).collect()
        };
        let returns_code = ty.results() == [wasmi::ValType::I32];
        if !is_plugin_function(&types(ty.params()), &types(ty.results())) {
            bail_kind!(
                Invalid,
                "`{name}` is not a plug-in function: its type is {:?} -> {:?}, not () -> i32",
                ty.params(),
                ty.results()
            );
        }
        Ok((func, returns_code))
    }

    /// Frees the Extism memory: every handle of the last call becomes invalid, and
    /// the host memory it held goes back to the system.
    ///
    /// # Errors
    ///
    /// None: the `Result` is the `extism` crate's signature.
    pub fn reset(&mut self) -> Result<(), Error> {
        let state = self.store.data_mut();
        state.reset_memory();
        state.memory.reset(0);
        Ok(())
    }

    /// Replaces the instance by a fresh one (new globals, linear memory and Extism
    /// memory); vars and config are kept.
    ///
    /// # Errors
    ///
    /// As [`Plugin::instantiate`]; the old instance is kept when this fails.
    pub fn reinstantiate(&mut self) -> Result<(), Error> {
        self.cancel.clear();
        let limits = self.compiled.limits_from_now(&self.cancel);
        self.reinstantiate_under(&limits).map(|_| ())
    }

    /// Replaces the instance under the limits of the call that needs it.
    fn reinstantiate_under(&mut self, limits: &CallLimits) -> Result<Instance, Error> {
        let (mut store, instance) = self.compiled.instantiate(self.id, limits)?;
        let old = self.store.data_mut();
        let state = store.data_mut();
        core::mem::swap(&mut state.vars, &mut old.vars);
        core::mem::swap(&mut state.config, &mut old.config);
        state.http.allow_response_headers = old.http.allow_response_headers;
        self.store = store;
        self.instance = Some(instance);
        self.last_function = None;
        self.needs_rebuild = false;
        Ok(instance)
    }

    /// Fuel the last call used, also when it failed (`None` when fuel metering is off
    /// or before the first call).
    pub fn fuel_consumed(&self) -> Option<u64> {
        self.fuel_consumed
    }

    /// Calls `name` with `input`, returning its output decoded as `U`.
    ///
    /// # Errors
    ///
    /// The error's [`kind`](crate::ErrorExt::kind) (an [`ErrorKind`](crate::ErrorKind)) says what failed:
    /// `NotFound` when there is no export `name` (`Function not found: NAME`);
    /// `Invalid` when it is not a plug-in function (`() -> i32` or `() -> ()`) or the
    /// input cannot be encoded or the output decoded; `Plugin { code }` when the
    /// plug-in set an error (its text is the message) or returned a non-zero code
    /// (`Returned non-zero exit code: N`); `Trap` when it trapped or passed a bad
    /// handle to a kernel function; `Exit` for a non-zero WASI `proc_exit`; `Timeout`,
    /// `Cancelled`, `OutOfFuel`, `OutOfMemory` for the limits; `LimitExceeded` past a
    /// cap on a host resource; `PermissionDenied` for an HTTP host the manifest does
    /// not allow. When a host function fails, the call's error has its error as the
    /// [`source`](core::error::Error::source) and its kind: `Host` for one without a
    /// kind (or a panic). The first call instantiates the plug-in (and a call after
    /// a failure that left the instance inconsistent rebuilds it): that fails first,
    /// as [`Plugin::instantiate`], whatever `name` is. An error of the input's
    /// `ToBytes` or the output's `FromBytes` is returned as it is when it has a kind;
    /// one without (those of `extism-convert`'s types, a host's own) becomes the
    /// source of an `Invalid` error (``the output of `NAME` does not decode as
    /// `TYPE` ``) and stays reachable with `downcast_ref`.
    pub fn call<'a, 'b, T: ToBytes<'a>, U: FromBytes<'b>>(
        &'b mut self,
        name: impl AsRef<str>,
        input: T,
    ) -> Result<U, Error> {
        self.call_get_error_code(name, input).map_err(|(e, _)| e)
    }

    /// Like [`Plugin::call`], but a failure also gives the return code (the
    /// plug-in's own when it returned one, else -1).
    ///
    /// # Errors
    ///
    /// As [`Plugin::call`].
    pub fn call_get_error_code<'a, 'b, T: ToBytes<'a>, U: FromBytes<'b>>(
        &'b mut self,
        name: impl AsRef<str>,
        input: T,
    ) -> Result<U, (Error, i32)> {
        self.call_inner(name.as_ref(), input, None)
    }

    /// Like [`Plugin::call`], with a value host functions read through
    /// [`CurrentPlugin::host_context`].
    ///
    /// # Errors
    ///
    /// As [`Plugin::call`].
    pub fn call_with_host_context<'a, 'b, T, U, C>(
        &'b mut self,
        name: impl AsRef<str>,
        input: T,
        host_context: C,
    ) -> Result<U, Error>
    where
        T: ToBytes<'a>,
        U: FromBytes<'b>,
        C: Any + Send + Sync + 'static,
    {
        self.call_inner(name.as_ref(), input, Some(Box::new(host_context)))
            .map_err(|(error, _)| error)
    }

    /// Like [`Plugin::call_with_host_context`], but a failure also gives the return
    /// code, as [`Plugin::call_get_error_code`] does (used by the C API).
    ///
    /// # Errors
    ///
    /// As [`Plugin::call`].
    pub fn call_with_host_context_get_error_code<'a, 'b, T, U, C>(
        &'b mut self,
        name: impl AsRef<str>,
        input: T,
        host_context: C,
    ) -> Result<U, (Error, i32)>
    where
        T: ToBytes<'a>,
        U: FromBytes<'b>,
        C: Any + Send + Sync + 'static,
    {
        self.call_inner(name.as_ref(), input, Some(Box::new(host_context)))
    }

    /// Encodes the input, calls `name`, decodes the output; a failure also gives the
    /// return code.
    fn call_inner<'a, 'b, T: ToBytes<'a>, U: FromBytes<'b>>(
        &'b mut self,
        name: &str,
        input: T,
        host_context: Option<Box<dyn Any + Send + Sync>>,
    ) -> Result<U, (Error, i32)> {
        let input = encode(&input, || format!("the input of `{name}`")).map_err(|e| (e, -1))?;
        self.raw_call(name, input.as_ref(), host_context)
            .map_err(|f| (f.error, f.rc))?;
        let output = self.output().map_err(|e| (e, -1))?;
        decode(output, || format!("the output of `{name}`")).map_err(|e| (e, -1))
    }

    /// The output of the last successful call.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Trap`](crate::ErrorKind::Trap) when the plug-in's output is not inside its Extism memory.
    pub fn output(&self) -> Result<&[u8], Error> {
        self.store.data().output_bytes()
    }

    /// Sets config keys (`None` removes a key); plug-ins see them on the next
    /// `config_get`.
    pub fn set_config<'k>(
        &mut self,
        changes: impl IntoIterator<Item = (&'k str, Option<&'k str>)>,
    ) {
        let config = &mut self.store.data_mut().config;
        for (key, value) in changes {
            match value {
                Some(value) => config.insert(key.to_string(), value.to_string()),
                None => config.remove(key),
            };
        }
    }

    /// Lets the plug-in read HTTP response headers.
    pub fn allow_http_response_headers(&mut self, allow: bool) {
        self.store.data_mut().http.allow_response_headers = allow;
    }

    /// The state host functions see, between calls.
    pub fn current_plugin(&mut self) -> &mut CurrentPlugin {
        self.store.data_mut()
    }

    /// The limits of a call starting now: clears a cancel that arrived before it and
    /// sets the deadline. A rebuild of the instance before the call runs under them, so
    /// a cancel arriving during the rebuild stops the call.
    pub(super) fn start_limits(&mut self) -> CallLimits {
        self.cancel.clear();
        let limits = self.compiled.limits_from_now(&self.cancel);
        // Host work (WASI waits, HTTP) reads the deadline from the state; a rebuilt
        // instance gets it from `instantiate`.
        self.store.data_mut().deadline_ms = limits.deadline_ms;
        limits
    }

    /// Runs `name` on raw input bytes; the output is then in [`Plugin::output`].
    /// [`Plugin::raw_call`] (in `call_log.rs`) runs it and logs the call; the set-up
    /// and the end of the call, shared with `call_async`, are in `call.rs`.
    pub(crate) fn run_call(
        &mut self,
        name: &str,
        input: &[u8],
        host_context: Option<Box<dyn Any + Send + Sync>>,
    ) -> Result<(), CallFailure> {
        let call = self.start_call(name, input, host_context)?;
        let mut code = [wasmi::Val::I32(0)];
        let results = call.results(&mut code);
        let outcome = run(
            &mut self.store,
            call.func,
            &[],
            results,
            &call.limits,
            call.fueled,
        );
        self.end_call(&call, outcome, &code)
    }
}

/// Methods of the `extism` crate's `Plugin` that the call API above does not cover.
impl Plugin {
    /// True when the plug-in was created with WASI (`with_wasi(true)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use interplug::Plugin;
    /// let wat = r#"(module (func (export "noop") (result i32) i32.const 0))"#;
    /// assert!(!Plugin::new(wat, [], false)?.has_wasi());
    /// # Ok::<(), interplug::Error>(())
    /// ```
    pub fn has_wasi(&self) -> bool {
        self.compiled.options().wasi
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>() {}
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn thread_safety_of_public_types() {
        assert_send::<Plugin>();
        assert_send_sync::<CompiledPlugin>();
        assert_send_sync::<CancelHandle>();
    }

    /// A module that adds one to a global on every call of `bump`.
    const COUNTER: &str = r#"(module
        (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
        (global $n (mut i32) (i32.const 0))
        (func (export "bump") (result i32)
            (global.set $n (i32.add (global.get $n) (i32.const 1)))
            (call $output_set (i64.const 0) (i64.const 0))
            (global.get $n)))"#;

    #[cfg(feature = "std")]
    #[test]
    fn module_cache_shares_modules_not_state_or_options() {
        let fresh = || PluginBuilder::new(COUNTER).build().expect("plug-in");
        // Two plug-ins of the same bytes (the second from the cache) have their own
        // globals: each first call returns 1 (a non-zero rc, reported as such).
        for _ in 0..2 {
            let mut plugin = fresh();
            let (_, rc) = plugin
                .call_get_error_code::<&str, &[u8]>("bump", "")
                .unwrap_err();
            assert_eq!(rc, 1);
        }
        // Fuel metering is part of the key: the same bytes without interruption
        // support get an engine without fuel, and with it one with fuel.
        let mut plain = PluginBuilder::new(COUNTER)
            .with_interruption(false)
            .build()
            .expect("plug-in");
        assert!(plain.call::<&str, &[u8]>("bump", "").is_err());
        assert_eq!(plain.fuel_consumed(), None);
        let mut metered = fresh();
        assert!(metered.call::<&str, &[u8]>("bump", "").is_err());
        assert!(metered.fuel_consumed().is_some());
        // Invalid bytes are never cached: they fail every time.
        for _ in 0..2 {
            assert!(Plugin::new(b"\0asm\x01\0\0\0\x01\xff".as_slice(), [], false).is_err());
        }
    }

    #[cfg(feature = "std")]
    #[test]
    fn switching_between_plugin_functions_uses_the_right_one() {
        let wat = r#"(module
            (memory (export "memory") 1)
            (func (export "zero") (result i32) i32.const 0)
            (func (export "seven") (result i32) i32.const 7)
            (func (export "nothing"))
            (func (export "takes_arg") (param i32)))"#;
        let mut plugin = Plugin::new(wat, [], false).expect("valid");
        let code = |plugin: &mut Plugin, name: &str| match plugin.call::<&str, &[u8]>(name, "") {
            Ok(_) => Ok(0),
            Err(error) => Err(format!("{error:#}")),
        };
        for _ in 0..2 {
            assert_eq!(code(&mut plugin, "zero"), Ok(0));
            assert_eq!(code(&mut plugin, "zero"), Ok(0));
            let seven = code(&mut plugin, "seven").expect_err("code 7");
            assert!(seven.contains("exit code: 7"), "{seven}");
            assert_eq!(code(&mut plugin, "nothing"), Ok(0));
            let wrong = code(&mut plugin, "takes_arg").expect_err("wrong type");
            assert!(wrong.contains("not a plug-in function"), "{wrong}");
            let missing = code(&mut plugin, "absent").expect_err("missing");
            assert!(missing.contains("Function not found: absent"), "{missing}");
            assert_eq!(code(&mut plugin, "zero"), Ok(0));
            // A new instance: the remembered function belonged to the old one.
            plugin.reinstantiate().expect("fresh instance");
        }
    }
}
