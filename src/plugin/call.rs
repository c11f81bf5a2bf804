//! The path of one call, shared by [`Plugin::call`] and [`Plugin::call_async`]: set it
//! up (`Plugin::start_call`), run it (on the calling thread in `Plugin::raw_call`, or
//! awaited here), end it (`Plugin::end_call`); and `Plugin::call_async` and its forms,
//! calls that wait without holding a thread (see `docs/async.md`).

use crate::limits::call::CallLimits;
use crate::{
    host::convert::{FromBytes, ToBytes},
    plugin::instance::Plugin,
    plugin::run::{run_async, CallFailure, Mode, RunError},
    plugin::store::release_memory_after_run,
    Error, ErrorKind,
};
use alloc::{boxed::Box, format, string::String};
use core::{any::Any, future::Future};
use wasmi::Func;

impl Plugin {
    /// Calls `name` with `input` as a future: like [`Plugin::call`], but when the
    /// plug-in calls an async host function ([`Function::new_async`],
    /// [`host_fn_async!`]) the future waits for it without holding a thread, and
    /// with [`PluginBuilder::with_yield_fuel`] a long call gives the executor its
    /// thread back every so much fuel. Works on any executor, and without `std`.
    ///
    /// The input is encoded and the call set up (the instance rebuilt if an earlier
    /// call left it inconsistent) when `call_async` is called; the plug-in runs when
    /// the future is polled. The limits hold while it waits: a cancel or the timeout
    /// ends the wait at once (dropping the host function's future), and fuel and the
    /// memory budget count as in a sync call. Dropping the future before it is done
    /// abandons the call: the instance is rebuilt before the next one (vars and
    /// config are kept).
    ///
    /// [`Function::new_async`]: crate::Function::new_async
    /// [`host_fn_async!`]: crate::host_fn_async
    /// [`PluginBuilder::with_yield_fuel`]: crate::PluginBuilder::with_yield_fuel
    ///
    /// # Errors
    ///
    /// As [`Plugin::call`]; a host future's error fails the call as a host function's
    /// error does.
    ///
    /// # Examples
    ///
    /// ```
    /// use interplug::{host_fn_async, Function, Manifest, Plugin, UserData, Wasm, PTR};
    ///
    /// host_fn_async!(hello_world(name: String) -> String {
    ///     Ok(format!("Hello, {name}!"))
    /// });
    /// let manifest = Manifest::new([Wasm::file("spec-tests/fixtures/host_fns.wasm")]);
    /// let functions = [("hello_world", None), ("panic_now", None), ("shout", Some("example:other"))]
    ///     .map(|(name, namespace)| {
    ///         let f = Function::new_async(name, [PTR], [PTR], UserData::new(()), hello_world);
    ///         match namespace { Some(ns) => f.with_namespace(ns), None => f }
    ///     });
    /// let mut plugin = Plugin::new(&manifest, functions, false)?;
    /// // Any executor: here a minimal one that polls until the future is ready.
    /// let future = plugin.call_async::<&str, String>("call_host", "Ada");
    /// let output = futures_lite_block_on(future)?;
    /// assert_eq!(output, "Hello, Ada!");
    /// # fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// # Ok::<(), interplug::Error>(())
    /// ```
    pub fn call_async<'a, 'b, T: ToBytes<'a>, U: FromBytes<'b>>(
        &'b mut self,
        name: impl AsRef<str>,
        input: T,
    ) -> impl Future<Output = Result<U, Error>> + Send + 'b {
        let started = self.start_encoded(name.as_ref(), input, None);
        async move {
            self.run_started(started?).await.map_err(|f| f.error)?;
            let this: &'b Plugin = self;
            U::from_bytes(this.output()?)
        }
    }

    /// Like [`Plugin::call_async`], but a failure also gives the return code, as
    /// [`Plugin::call_get_error_code`] does.
    ///
    /// # Errors
    ///
    /// As [`Plugin::call_async`].
    pub fn call_async_get_error_code<'a, 'b, T: ToBytes<'a>, U: FromBytes<'b>>(
        &'b mut self,
        name: impl AsRef<str>,
        input: T,
    ) -> impl Future<Output = Result<U, (Error, i32)>> + Send + 'b {
        let started = self.start_encoded(name.as_ref(), input, None);
        async move {
            let started = started.map_err(|e| (e, -1))?;
            self.run_started(started)
                .await
                .map_err(|f| (f.error, f.rc))?;
            let this: &'b Plugin = self;
            let output = this.output().map_err(|e| (e, -1))?;
            U::from_bytes(output).map_err(|e| (e, -1))
        }
    }

    /// Like [`Plugin::call_async`], with a value host functions read through
    /// [`CurrentPlugin::host_context`](crate::CurrentPlugin::host_context), as
    /// [`Plugin::call_with_host_context`] does.
    ///
    /// # Errors
    ///
    /// As [`Plugin::call_async`].
    pub fn call_async_with_host_context<'a, 'b, T, U, C>(
        &'b mut self,
        name: impl AsRef<str>,
        input: T,
        host_context: C,
    ) -> impl Future<Output = Result<U, Error>> + Send + 'b
    where
        T: ToBytes<'a>,
        U: FromBytes<'b>,
        C: Any + Send + Sync + 'static,
    {
        let context: Box<dyn Any + Send + Sync> = Box::new(host_context);
        let started = self.start_encoded(name.as_ref(), input, Some(context));
        async move {
            self.run_started(started?).await.map_err(|f| f.error)?;
            let this: &'b Plugin = self;
            U::from_bytes(this.output()?)
        }
    }

    /// Encodes `input` and sets up the call (logged as [`Plugin::raw_call`] logs a
    /// sync one); fails only when the input cannot be encoded.
    fn start_encoded<'a, T: ToBytes<'a>>(
        &mut self,
        name: &str,
        input: T,
        host_context: Option<Box<dyn Any + Send + Sync>>,
    ) -> Result<Started, Error> {
        let input = input.to_bytes()?;
        let input = input.as_ref();
        self.log_calling(name, input.len());
        Ok(Started {
            name: String::from(name),
            call: self.start_call(name, input, host_context),
        })
    }

    /// Runs a started call to its end, awaiting its host functions and yields, and
    /// logs how it ended.
    async fn run_started(&mut self, started: Started) -> Result<(), CallFailure> {
        let result = match started.call {
            Ok(call) => {
                let mut code = [wasmi::Val::I32(0)];
                let mode = Mode::Async {
                    yield_fuel: self.compiled.options().yield_fuel,
                };
                let results = call.results(&mut code);
                let outcome = run_async(
                    &mut self.store,
                    call.func,
                    &[],
                    results,
                    &call.limits,
                    call.fueled,
                    mode,
                )
                .await;
                self.end_call(&call, outcome, &code)
            }
            Err(failure) => Err(failure),
        };
        self.log_finished(&started.name, &result);
        result
    }

    /// Sets up a call of `name`: its limits, the instance (made at the first call,
    /// rebuilt when needed), the function, the input. The instance counts as poisoned until [`Plugin::end_call`]
    /// says otherwise, so a call that never ends (an async call dropped while it
    /// waits) has it rebuilt before the next one.
    pub(crate) fn start_call(
        &mut self,
        name: &str,
        input: &[u8],
        host_context: Option<Box<dyn Any + Send + Sync>>,
    ) -> Result<StartedCall, CallFailure> {
        let fail = |error: Error| CallFailure { error, rc: -1 };
        let limits = self.start_limits();
        // Instantiation first, then the function: the official runtime's order (a
        // plug-in that cannot be instantiated fails with that, whatever the name).
        let instance = self.instance_under(&limits).map_err(fail)?;
        let (func, returns_code) = self.plugin_function(instance, name).map_err(fail)?;
        let fueled = self.store.get_fuel().is_ok();
        {
            let state = self.store.data_mut();
            state.begin_call(input).map_err(fail)?;
            state.host_context = host_context;
        }
        self.needs_rebuild = true;
        Ok(StartedCall {
            func,
            returns_code,
            limits,
            fueled,
            is_start: name == "_start",
        })
    }

    /// Ends a call started by [`Plugin::start_call`] with the run's `outcome` and
    /// the return code the function left in `code`.
    pub(crate) fn end_call(
        &mut self,
        call: &StartedCall,
        outcome: Result<u64, RunError>,
        code: &[wasmi::Val],
    ) -> Result<(), CallFailure> {
        let fail = |error: Error| CallFailure { error, rc: -1 };
        let fueled = call.fueled;
        release_memory_after_run(&mut self.store);
        self.store.data_mut().host_context = None;
        self.needs_rebuild = call.is_start || matches!(&outcome, Err(e) if e.poisoned);
        let plugin_error = self.store.data().error_message();
        match outcome {
            Ok(consumed) => {
                self.fuel_consumed = fueled.then_some(consumed);
                let rc = match call.returns_code {
                    true => code.first().and_then(|v| v.i32()).unwrap_or(0),
                    false => 0,
                };
                match (plugin_error, rc) {
                    (Some(message), rc) => {
                        let code = if rc == 0 { -1 } else { rc };
                        Err(CallFailure {
                            error: crate::error::new(ErrorKind::Plugin { code }, message),
                            rc: code,
                        })
                    }
                    (None, 0) => Ok(()),
                    (None, rc) => Err(CallFailure {
                        error: crate::error::new(
                            ErrorKind::Plugin { code: rc },
                            format!("Returned non-zero exit code: {rc}"),
                        ),
                        rc,
                    }),
                }
            }
            Err(RunError {
                error,
                exit,
                fuel_used,
                ..
            }) => {
                self.fuel_consumed = fueled.then_some(fuel_used);
                match (exit, plugin_error) {
                    (Some(0), None) => Ok(()),
                    (Some(code), Some(message)) => Err(CallFailure {
                        error: crate::error::new(ErrorKind::Exit { code }, message),
                        rc: code,
                    }),
                    (Some(code), None) => Err(CallFailure { error, rc: code }),
                    (None, _) => Err(fail(error)),
                }
            }
        }
    }
}

/// An async call as `call_async` set it up: its name, for the log, and the call or
/// why it could not start.
struct Started {
    name: String,
    call: Result<StartedCall, CallFailure>,
}

/// A call set up by [`Plugin::start_call`], waiting to run.
pub(crate) struct StartedCall {
    pub(crate) func: Func,
    /// Whether the function returns the i32 return code.
    returns_code: bool,
    pub(crate) limits: CallLimits,
    pub(crate) fueled: bool,
    /// A WASI command's `_start`: the instance is rebuilt after it.
    is_start: bool,
}

impl StartedCall {
    /// The result slots of the function: the return code's, or none.
    pub(crate) fn results<'c>(&self, code: &'c mut [wasmi::Val; 1]) -> &'c mut [wasmi::Val] {
        if self.returns_code {
            &mut code[..]
        } else {
            &mut code[..0]
        }
    }
}
