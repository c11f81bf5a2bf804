//! `typed_plugin!`: a struct with one typed method per plug-in function.

/// Declares a wrapper around [`crate::Plugin`] with one typed method per plug-in
/// function, as the `extism` crate's macro does:
/// `typed_plugin!(Name { function(Input) -> Output; ... })`. A method may declare
/// lifetimes and generic parameters: `function<'b, T: Bound>(Input) -> Output`.
/// `async function(Input) -> Output;` makes an `async` method that calls through
/// [`Plugin::call_async`](crate::Plugin::call_async).
///
/// The wrapper converts from a [`Plugin`](crate::Plugin) with `try_into()` and back
/// with `Plugin::from`.
///
/// # Errors
///
/// The conversion fails with [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) when
/// one of the listed functions is not a plug-in function; each method fails as
/// [`Plugin::call`](crate::Plugin::call) does.
///
/// # Examples
///
/// ```
/// use interplug::{convert::Json, typed_plugin, Manifest, Plugin, Wasm};
///
/// #[derive(serde::Deserialize)]
/// struct Count {
///     count: u32,
/// }
///
/// typed_plugin!(CountVowels {
///     count_vowels(&str) -> Json<Count>;
/// });
///
/// let manifest = Manifest::new([Wasm::file("spec-tests/fixtures/count_vowels.wasm")]);
/// let mut plugin: CountVowels = Plugin::new(&manifest, [], false)?.try_into()?;
/// let Json(count) = plugin.count_vowels("hello world")?;
/// assert_eq!(count.count, 3);
///
/// typed_plugin!(Missing { no_such_function(&str) -> String; });
/// let plugin = Plugin::new(&manifest, [], false)?;
/// assert!(Missing::try_from(plugin).is_err());
///
/// // An async method: a future for any executor.
/// typed_plugin!(CountAsync { async count_vowels(&str) -> Json<Count>; });
/// let mut plugin: CountAsync = Plugin::new(&manifest, [], false)?.try_into()?;
/// let future = plugin.count_vowels("aeiou");
/// # use std::future::Future;
/// # let mut future = std::pin::pin!(future);
/// # let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// # let std::task::Poll::Ready(result) = future.as_mut().poll(&mut cx) else { panic!() };
/// # let Json(count) = result?;
/// # assert_eq!(count.count, 5);
/// # Ok::<(), interplug::Error>(())
/// ```
#[macro_export]
macro_rules! typed_plugin {
    // The conversion checks every listed function, `async` or not.
    (@check $plugin:ident;) => {};
    (@check $plugin:ident; async $($rest:tt)*) => {
        $crate::typed_plugin!(@check $plugin; $($rest)*);
    };
    (@check $plugin:ident; $fname:ident $(< $($lt:tt $(: $bound:path)?),+ >)?
        ($input:ty) -> $output:ty $(; $($rest:tt)*)?) => {
        if !$plugin.function_exists(stringify!($fname)) {
            return Err($crate::__private::missing_function(stringify!($fname)));
        }
        $crate::typed_plugin!(@check $plugin; $($($rest)*)?);
    };
    // One method per function: `async` ones return the future of `call_async`.
    (@methods) => {};
    (@methods async $fname:ident $(< $($lt:tt $(: $bound:path)?),+ >)?
        ($input:ty) -> $output:ty $(; $($rest:tt)*)?) => {
        #[allow(missing_docs)]
        pub async fn $fname<'a $($(, $lt $(: $bound)?)+)?>(
            &'a mut self,
            input: $input,
        ) -> ::core::result::Result<$output, $crate::Error> {
            self.0.call_async(stringify!($fname), input).await
        }
        $crate::typed_plugin!(@methods $($($rest)*)?);
    };
    (@methods $fname:ident $(< $($lt:tt $(: $bound:path)?),+ >)?
        ($input:ty) -> $output:ty $(; $($rest:tt)*)?) => {
        #[allow(missing_docs)]
        pub fn $fname<'a $($(, $lt $(: $bound)?)+)?>(
            &'a mut self,
            input: $input,
        ) -> ::core::result::Result<$output, $crate::Error> {
            self.0.call(stringify!($fname), input)
        }
        $crate::typed_plugin!(@methods $($($rest)*)?);
    };
    ($pub:vis $name:ident { $($functions:tt)* }) => {
        $pub struct $name(pub $crate::Plugin);

        impl ::core::convert::TryFrom<$crate::Plugin> for $name {
            type Error = $crate::Error;
            fn try_from(plugin: $crate::Plugin) -> ::core::result::Result<Self, Self::Error> {
                $crate::typed_plugin!(@check plugin; $($functions)*);
                Ok($name(plugin))
            }
        }

        impl ::core::convert::From<$name> for $crate::Plugin {
            fn from(typed: $name) -> Self {
                typed.0
            }
        }

        impl $name {
            $crate::typed_plugin!(@methods $($functions)*);
        }
    };
}
