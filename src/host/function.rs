//! Host functions: Rust code a plug-in can import.
//!
//! A [`Function`] names an import (`namespace::name`), its wasm signature, and the
//! Rust closure that runs when the plug-in calls it; [`UserData`] is state the host
//! shares with it. [`host_fn!`](crate::host_fn) writes the closure for functions whose
//! parameters and result are memory blocks.
//!
//! # Examples
//!
//! ```
//! use interplug::{CurrentPlugin, Function, UserData, Val, ValType};
//! // `add(i64, i64) -> i64`, counting its calls in the user data.
//! let add = Function::new(
//!     "add",
//!     [ValType::I64, ValType::I64],
//!     [ValType::I64],
//!     UserData::new(0u32),
//!     |_plugin: &mut CurrentPlugin, inputs: &[Val], outputs: &mut [Val], calls: UserData<u32>| {
//!         *calls.get()?.lock().unwrap() += 1;
//!         outputs[0] = Val::I64(inputs[0].unwrap_i64() + inputs[1].unwrap_i64());
//!         Ok(())
//!     },
//! );
//! assert_eq!(add.namespace(), None);
//! assert_eq!(add.module(), interplug::EXTISM_USER_MODULE);
//! ```

use crate::{
    error::with_context,
    host::current_plugin::CurrentPlugin,
    host::val::Val,
    host::wait::{block_on, HostWait},
    kernel::abi::{ValType, DEFAULT_NAMESPACE},
    limits::call::CallLimits,
    platform, Error,
};
use alloc::{boxed::Box, string::String, sync::Arc, vec::Vec};
use core::{future::Future, pin::Pin};

pub use crate::platform::Lock;

/// State shared between the host and its host functions: `Arc<Mutex<T>>`.
pub struct UserData<T>(Option<Arc<Lock<T>>>);

impl<T> Clone for UserData<T> {
    fn clone(&self) -> Self {
        UserData(self.0.clone())
    }
}

impl<T> core::fmt::Debug for UserData<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("UserData")
    }
}

/// A `UserData` holding `T::default()` (as in the `extism` crate).
impl<T: Default> Default for UserData<T> {
    fn default() -> Self {
        UserData::new(T::default())
    }
}

impl<T> UserData<T> {
    /// Wraps `value` for sharing with host functions.
    pub fn new(value: T) -> Self {
        UserData(Some(Arc::new(Lock::new(value))))
    }

    /// A `UserData` holding nothing: [`UserData::get`] fails on it. Used where a C
    /// host passes no data.
    pub fn empty() -> Self {
        UserData(None)
    }

    /// The shared value, behind its lock.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when this `UserData` was
    /// created with [`UserData::empty`].
    ///
    /// # Examples
    ///
    /// ```
    /// use interplug::UserData;
    /// let data = UserData::new(vec![1, 2]);
    /// data.get()?.lock().unwrap().push(3);
    /// assert_eq!(*data.get()?.lock().unwrap(), [1, 2, 3]);
    /// assert!(UserData::<u8>::empty().get().is_err());
    /// # Ok::<(), interplug::Error>(())
    /// ```
    pub fn get(&self) -> Result<Arc<Lock<T>>, Error> {
        self.0.clone().ok_or_else(|| {
            crate::error::fail!(
                Invalid,
                "this host function was given no user data; create it with UserData::new"
            )
        })
    }

    /// True when no value is held.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }
}

/// The body of a host function after its user data is bound.
pub(crate) type HostCallback =
    dyn Fn(&mut CurrentPlugin, &[Val], &mut [Val]) -> Result<(), Error> + Send + Sync;

/// What an async host function does once its wait is over: writes its results (the
/// plug-in's memory is reachable again).
pub(crate) type Writer =
    Box<dyn FnOnce(&mut CurrentPlugin, &mut [Val]) -> Result<(), Error> + Send>;

/// The wait of an async host function.
pub(crate) type HostFuture = Pin<Box<dyn Future<Output = Result<Writer, Error>> + Send>>;

/// The body of an async host function after its user data is bound: reads the inputs
/// and returns the wait (carried to the run loop by `host/suspend.rs`).
pub(crate) type AsyncHostCallback = dyn Fn(&mut CurrentPlugin, &[Val]) -> HostFuture + Send + Sync;

/// `host_fn_async!`'s argument reader: the argument as an owned value, so that the
/// function's future holds no borrow of the plug-in.
///
/// # Errors
///
/// As [`CurrentPlugin::memory_get_val`].
#[doc(hidden)]
pub fn owned_argument<T: crate::host::convert::FromBytesOwned>(
    plugin: &mut CurrentPlugin,
    value: &Val,
) -> Result<T, Error> {
    plugin.memory_get_val::<T>(value)
}

/// Waits on this thread for the `future` of a host function named `label` (`None`:
/// one of interplug's imports) and writes its results into `outputs`: used where the
/// call cannot be suspended (a start function, which runs inside instantiation), under
/// the same cancel and deadline.
///
/// # Errors
///
/// As the wait of an async call: the host function's error, a panic, `Cancelled`,
/// `Timeout`; without `std`, `Invalid` when the future is not ready at once.
pub(crate) fn wait_here(
    state: &mut CurrentPlugin,
    label: Option<&Arc<str>>,
    future: HostFuture,
    outputs: &mut [Val],
) -> Result<(), Error> {
    let limits = CallLimits {
        cancel: state.cancel.clone(),
        clock: state.clock.clone(),
        timeout_ms: state.manifest.timeout_ms,
        deadline_ms: state.deadline_ms,
        fuel_limit: None,
    };
    let write = block_on(
        HostWait::new(label.cloned(), future, &limits, true),
        &limits,
    )?;
    platform::catch_panic(|| write(state, outputs)).map_err(|error| match label {
        Some(label) => with_context(error, &alloc::format!("host function `{label}` failed")),
        None => error,
    })
}

/// What runs when the plug-in calls a host function.
#[derive(Clone)]
pub(crate) enum Callback {
    /// Runs to its end inside the engine.
    Sync(Arc<HostCallback>),
    /// Reads its inputs and returns a wait; the call suspends until it is over.
    Async(Arc<AsyncHostCallback>),
}

/// A host function a plug-in can import.
#[derive(Clone)]
pub struct Function {
    name: String,
    namespace: Option<String>,
    params: Vec<ValType>,
    results: Vec<ValType>,
    pub(crate) callback: Callback,
}

impl core::fmt::Debug for Function {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Function")
            .field("namespace", &self.module())
            .field("name", &self.name)
            .field("params", &self.params)
            .field("results", &self.results)
            .finish()
    }
}

impl Function {
    /// A host function `name` with these parameter and result types, calling `f`
    /// with `user_data` on every call.
    pub fn new<T: 'static + Send, F>(
        name: impl Into<String>,
        params: impl IntoIterator<Item = ValType>,
        results: impl IntoIterator<Item = ValType>,
        user_data: UserData<T>,
        f: F,
    ) -> Function
    where
        F: Fn(&mut CurrentPlugin, &[Val], &mut [Val], UserData<T>) -> Result<(), Error>
            + Send
            + Sync
            + 'static,
    {
        let callback = move |plugin: &mut CurrentPlugin, inputs: &[Val], outputs: &mut [Val]| {
            f(plugin, inputs, outputs, user_data.clone())
        };
        let function = Function {
            name: name.into(),
            namespace: None,
            params: params.into_iter().collect(),
            results: results.into_iter().collect(),
            callback: Callback::Sync(Arc::new(callback)),
        };
        function.trace_creation();
        function
    }

    /// An async host function `name`: `f` reads what it needs from the plug-in and
    /// returns a future; the call waits for it without holding a thread (under
    /// [`Plugin::call_async`](crate::Plugin::call_async)), then the closure the future
    /// gives writes the results.
    ///
    /// `f` gets the plug-in, the inputs and the user data, as a [`Function::new`]
    /// body does. The plug-in is borrowed only while `f` runs: read the arguments
    /// there into owned values, move them into the future, and touch the plug-in
    /// again only in the closure the future returns, which gets it back with the
    /// output slots. [`host_fn_async!`](crate::host_fn_async) writes all three steps
    /// for functions whose arguments and result are memory blocks.
    ///
    /// A sync [`Plugin::call`](crate::Plugin::call) that reaches the function blocks
    /// its thread until the future is done (with `std`; without it the call fails
    /// unless the future is ready at once). Cancel and `timeout_ms` end the wait and
    /// drop the future; a panic in `f`, the future or the closure fails the call with
    /// [`ErrorKind::Host`](crate::ErrorKind::Host), as in a sync host function.
    ///
    /// # Examples
    ///
    /// ```
    /// use interplug::{CurrentPlugin, Function, UserData, Val, PTR};
    /// // `lookup(key) -> value`: reads the key now, "queries" later, writes after.
    /// let lookup = Function::new_async(
    ///     "lookup",
    ///     [PTR],
    ///     [PTR],
    ///     UserData::new(()),
    ///     |plugin: &mut CurrentPlugin, inputs: &[Val], _: UserData<()>| {
    ///         let key: Result<String, _> = plugin.memory_get_val(&inputs[0]);
    ///         async move {
    ///             let value = format!("value of {}", key?); // e.g. a database query
    ///             Ok(move |plugin: &mut CurrentPlugin, outputs: &mut [Val]| {
    ///                 plugin.memory_set_val(&mut outputs[0], value)
    ///             })
    ///         }
    ///     },
    /// );
    /// assert_eq!(lookup.name(), "lookup");
    /// ```
    pub fn new_async<T, F, Fut, W>(
        name: impl Into<String>,
        params: impl IntoIterator<Item = ValType>,
        results: impl IntoIterator<Item = ValType>,
        user_data: UserData<T>,
        f: F,
    ) -> Function
    where
        T: 'static + Send,
        F: Fn(&mut CurrentPlugin, &[Val], UserData<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<W, Error>> + Send + 'static,
        W: FnOnce(&mut CurrentPlugin, &mut [Val]) -> Result<(), Error> + Send + 'static,
    {
        let start = move |plugin: &mut CurrentPlugin, inputs: &[Val]| -> HostFuture {
            let wait = f(plugin, inputs, user_data.clone());
            Box::pin(async move { wait.await.map(|write| Box::new(write) as Writer) })
        };
        let function = Function {
            name: name.into(),
            namespace: None,
            params: params.into_iter().collect(),
            results: results.into_iter().collect(),
            callback: Callback::Async(Arc::new(start)),
        };
        function.trace_creation();
        function
    }

    /// Logs the new function, as the official runtime does.
    fn trace_creation(&self) {
        log::trace!(
            target: "extism::function",
            "Creating function {}: params={:?}, results={:?}",
            self.name,
            self.params,
            self.results
        );
    }

    /// True for a function made with [`Function::new_async`] or
    /// [`host_fn_async!`](crate::host_fn_async).
    pub fn is_async(&self) -> bool {
        matches!(self.callback, Callback::Async(_))
    }

    /// The import name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace set with [`Function::with_namespace`], if any (the function is
    /// then imported from [`DEFAULT_NAMESPACE`]); as in the `extism` crate.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The import module the function is linked under: its namespace, or
    /// [`DEFAULT_NAMESPACE`] (`extism:host/user`) when none was set.
    pub fn module(&self) -> &str {
        self.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE)
    }

    /// Parameter types.
    pub fn params(&self) -> &[ValType] {
        &self.params
    }

    /// Result types.
    pub fn results(&self) -> &[ValType] {
        &self.results
    }

    /// Moves the function to another import module.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.set_namespace(namespace);
        self
    }

    /// Moves the function to another import module.
    pub fn set_namespace(&mut self, namespace: impl Into<String>) {
        self.namespace = Some(namespace.into());
    }
}

/// Defines a host function whose parameters and result are [`crate::ToBytes`] /
/// [`crate::FromBytes`] values carried in Extism memory blocks (the plug-in passes
/// and receives memory handles, [`PTR`](crate::PTR)).
///
/// `host_fn!(name(user_data: T; arg: Type, ...) -> Ret { body })` defines
/// `fn name(&mut CurrentPlugin, &[Val], &mut [Val], UserData<T>) -> Result<(), Error>`,
/// ready for [`Function::new`]. Without `user_data: T;` the user data is `()`. An
/// argument may borrow the plug-in's memory (`&str`, `&[u8]`) when it is the only
/// borrowing one, as with the `extism` crate.
///
/// # Errors
///
/// The generated function fails the plug-in's call with
/// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when an argument is missing, is
/// not a live memory block or does not decode as its type;
/// [`ErrorKind::OutOfMemory`](crate::ErrorKind::OutOfMemory) when the result does not
/// fit in the plug-in's memory; and with the body's error when it returns one (of kind
/// [`ErrorKind::Host`](crate::ErrorKind::Host) unless it carries a
/// [`Failure`](crate::Failure)).
///
/// # Examples
///
/// The `host_fns` test plug-in calls `hello_world` (default namespace) from its
/// `call_host` function:
///
/// ```
/// use interplug::{host_fn, Function, Manifest, Plugin, UserData, Wasm, PTR};
///
/// host_fn!(hello_world(calls: u32; name: &str) -> String {
///     let calls = calls.get()?;
///     let mut calls = calls.lock().unwrap();
///     *calls += 1;
///     Ok(format!("Hello, {name}! (call {})", *calls))
/// });
///
/// let manifest = Manifest::new([Wasm::file("spec-tests/fixtures/host_fns.wasm")]);
/// let calls = UserData::new(0u32);
/// let hello = Function::new("hello_world", [PTR], [PTR], calls.clone(), hello_world);
/// // The plug-in imports two more functions; this example does not call them.
/// let panic_now = Function::new("panic_now", [PTR], [PTR], UserData::new(0u32), hello_world);
/// let shout = Function::new("shout", [PTR], [PTR], UserData::new(0u32), hello_world)
///     .with_namespace("example:other");
/// let mut plugin = Plugin::new(&manifest, [hello, panic_now, shout], false)?;
/// let greeting: String = plugin.call("call_host", "Ada")?;
/// assert_eq!(greeting, "Hello, Ada! (call 1)");
/// assert_eq!(*calls.get()?.lock().unwrap(), 1);
/// # Ok::<(), interplug::Error>(())
/// ```
#[macro_export]
macro_rules! host_fn {
    ($pub:vis $name:ident ($($arg:ident : $argty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $crate::host_fn!($pub $name (_user_data: (); $($arg : $argty),*) $(-> $ret)? $body);
    };
    ($pub:vis $name:ident ($user_data:ident : $dataty:ty; $($arg:ident : $argty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        #[allow(clippy::too_many_arguments, unused_variables, unused_mut)]
        $pub fn $name(
            plugin: &mut $crate::CurrentPlugin,
            inputs: &[$crate::Val],
            outputs: &mut [$crate::Val],
            mut $user_data: $crate::UserData<$dataty>,
        ) -> ::core::result::Result<(), $crate::Error> {
            let mut index = 0usize;
            $(
                let $arg: $argty = {
                    let value = inputs.get(index).ok_or_else(|| {
                        $crate::__private::missing_argument(stringify!($name), stringify!($arg))
                    })?;
                    index += 1;
                    plugin.memory_get_val(value)?
                };
            )*
            #[allow(clippy::redundant_closure_call)]
            let result: ::core::result::Result<$crate::host_fn!(@ret $($ret)?), $crate::Error> =
                (|| $body)();
            let result = result?;
            $crate::host_fn!(@output plugin, outputs, result $(, $ret)?);
            Ok(())
        }
    };
    (@ret) => { () };
    (@ret $ret:ty) => { $ret };
    (@output $plugin:ident, $outputs:ident, $result:ident) => {
        let _: () = $result;
    };
    (@output $plugin:ident, $outputs:ident, $result:ident, $ret:ty) => {
        if let Some(slot) = $outputs.get_mut(0) {
            $plugin.memory_set_val(slot, $result)?;
        }
    };
}

/// Defines an async host function: [`host_fn!`](crate::host_fn)'s grammar, and the
/// body may `.await`.
///
/// `host_fn_async!(name(user_data: T; arg: Type, ...) -> Ret { body })` defines a
/// function ready for [`Function::new_async`]. The arguments are read from the
/// plug-in's memory before the body runs, as owned values
/// ([`FromBytesOwned`](crate::FromBytesOwned): `String`, `Vec<u8>`, `Json<T>`...,
/// not `&str`); the result is written to a new memory block after the body has
/// finished. The body holds no borrow of the plug-in, so its future is `Send +
/// 'static` when the arguments, the result and what it awaits are. Lock the user data
/// only between awaits (a `MutexGuard` kept across an `.await` makes the future
/// not `Send`).
///
/// # Errors
///
/// As [`host_fn!`](crate::host_fn): an argument that is missing or does not decode,
/// a result that does not fit in the plug-in's memory, or the body's error fail the
/// plug-in's call.
///
/// # Examples
///
/// ```
/// use interplug::{host_fn_async, Function, Manifest, Plugin, UserData, Wasm, PTR};
///
/// host_fn_async!(hello_world(greeting: String; name: String) -> String {
///     let greeting = greeting.get()?.lock().unwrap().clone();
///     let name = async { name.to_uppercase() }.await; // e.g. a query
///     Ok(format!("{greeting}, {name}!"))
/// });
///
/// let manifest = Manifest::new([Wasm::file("spec-tests/fixtures/host_fns.wasm")]);
/// let data = UserData::new(String::from("Hello"));
/// let hello = Function::new_async("hello_world", [PTR], [PTR], data.clone(), hello_world);
/// // The plug-in imports two more functions; this example does not call them.
/// let panic_now = Function::new_async("panic_now", [PTR], [PTR], data.clone(), hello_world);
/// let shout = Function::new_async("shout", [PTR], [PTR], data, hello_world)
///     .with_namespace("example:other");
/// let mut plugin = Plugin::new(&manifest, [hello, panic_now, shout], false)?;
/// // A sync call waits on the calling thread; `call_async` waits without one.
/// let greeting: String = plugin.call("call_host", "Ada")?;
/// assert_eq!(greeting, "Hello, ADA!");
/// # Ok::<(), interplug::Error>(())
/// ```
#[macro_export]
macro_rules! host_fn_async {
    ($pub:vis $name:ident ($($arg:ident : $argty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $crate::host_fn_async!($pub $name (_user_data: (); $($arg : $argty),*) $(-> $ret)? $body);
    };
    ($pub:vis $name:ident ($user_data:ident : $dataty:ty; $($arg:ident : $argty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        #[allow(clippy::too_many_arguments, unused_variables, unused_mut)]
        $pub fn $name(
            plugin: &mut $crate::CurrentPlugin,
            inputs: &[$crate::Val],
            mut $user_data: $crate::UserData<$dataty>,
        ) -> impl ::core::future::Future<
            Output = ::core::result::Result<
                impl ::core::ops::FnOnce(
                        &mut $crate::CurrentPlugin,
                        &mut [$crate::Val],
                    ) -> ::core::result::Result<(), $crate::Error>
                    + ::core::marker::Send
                    + 'static,
                $crate::Error,
            >,
        > + ::core::marker::Send
               + 'static {
            #[allow(clippy::redundant_closure_call)]
            let arguments = (|| -> ::core::result::Result<_, $crate::Error> {
                let mut index = 0usize;
                $(
                    let $arg: $argty = {
                        let value = inputs.get(index).ok_or_else(|| {
                            $crate::__private::missing_argument(stringify!($name), stringify!($arg))
                        })?;
                        index += 1;
                        $crate::__private::owned_argument::<$argty>(plugin, value)?
                    };
                )*
                Ok(($($arg,)*))
            })();
            async move {
                let ($($arg,)*) = arguments?;
                let result: ::core::result::Result<$crate::host_fn!(@ret $($ret)?), $crate::Error> =
                    async move $body.await;
                let result = result?;
                Ok(move |plugin: &mut $crate::CurrentPlugin, outputs: &mut [$crate::Val]|
                      -> ::core::result::Result<(), $crate::Error> {
                    $crate::host_fn!(@output plugin, outputs, result $(, $ret)?);
                    Ok(())
                })
            }
        }
    };
}
