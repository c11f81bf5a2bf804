//! Host functions: Rust code a plug-in can import.

use crate::{
    current_plugin::CurrentPlugin,
    val::{Val, ValType},
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

impl<T> Default for UserData<T> {
    fn default() -> Self {
        UserData(None)
    }
}

impl<T> UserData<T> {
    /// Wraps `value` for sharing with host functions.
    pub fn new(value: T) -> Self {
        UserData(Some(Arc::new(Lock::new(value))))
    }

    /// The shared value; an error when this `UserData` was created empty.
    pub fn get(&self) -> Result<Arc<Lock<T>>, Error> {
        self.0
            .clone()
            .ok_or_else(|| anyhow::anyhow!("this host function was given no user data"))
    }

    /// True when no value is held.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }
}

/// The body of a host function after its user data is bound.
pub(crate) type HostCallback =
    dyn Fn(&mut CurrentPlugin, &[Val], &mut [Val]) -> Result<(), Error> + Send + Sync;

/// The namespace host functions live in unless told otherwise.
pub const DEFAULT_NAMESPACE: &str = "extism:host/user";

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
            .field("namespace", &self.namespace())
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
        Function {
            name: name.into(),
            namespace: None,
            params: params.into_iter().collect(),
            results: results.into_iter().collect(),
            callback: Arc::new(callback),
        }
    }

    /// The import name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The import module; [`DEFAULT_NAMESPACE`] unless set.
    pub fn namespace(&self) -> &str {
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
/// [`crate::FromBytes`] values carried in Extism memory blocks.
///
/// ```ignore
/// host_fn!(greet(user_data: Counter; name: String) -> String {
///     let counter = user_data.get()?;
///     let mut counter = counter.lock().unwrap();
///     counter.0 += 1;
///     Ok(format!("Hello, {name}! (call {})", counter.0))
/// });
/// let f = Function::new("greet", [PTR], [PTR], UserData::new(Counter(0)), greet);
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
            $user_data: $crate::UserData<$dataty>,
        ) -> ::core::result::Result<(), $crate::Error> {
            let mut index = 0usize;
            $(
                let $arg: $argty = {
                    let value = inputs.get(index).ok_or_else(|| {
                        $crate::Error::msg(concat!("missing argument `", stringify!($arg), "`"))
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
