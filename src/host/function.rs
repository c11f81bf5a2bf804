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
    host::current_plugin::CurrentPlugin,
    host::val::Val,
    kernel::abi::{ValType, DEFAULT_NAMESPACE},
    Error,
};
use alloc::{string::String, sync::Arc, vec::Vec};

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

/// A host function a plug-in can import.
#[derive(Clone)]
pub struct Function {
    name: String,
    namespace: Option<String>,
    params: Vec<ValType>,
    results: Vec<ValType>,
    pub(crate) callback: Arc<HostCallback>,
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
            callback: Arc::new(callback),
        };
        log::trace!(
            target: "extism::function",
            "Creating function {}: params={:?}, results={:?}",
            function.name,
            function.params,
            function.results
        );
        function
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
