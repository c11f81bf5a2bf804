//! `typed_plugin!`: a struct with one typed method per plug-in function.

/// Declares a wrapper around [`crate::Plugin`] with one typed method per plug-in
/// function, as the `extism` crate's macro does:
/// `typed_plugin!(Name { function(Input) -> Output; ... })`. A method may declare
/// lifetimes and generic parameters: `function<'b, T: Bound>(Input) -> Output`.
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
/// # Ok::<(), interplug::Error>(())
/// ```
#[macro_export]
macro_rules! typed_plugin {
    ($pub:vis $name:ident {
        $($fname:ident $(< $($lt:tt $(: $bound:path)?),+ >)? ($input:ty) -> $output:ty);* $(;)?
    }) => {
        $pub struct $name(pub $crate::Plugin);

        impl ::core::convert::TryFrom<$crate::Plugin> for $name {
            type Error = $crate::Error;
            fn try_from(plugin: $crate::Plugin) -> ::core::result::Result<Self, Self::Error> {
                $(
                    if !plugin.function_exists(stringify!($fname)) {
                        return Err($crate::__private::missing_function(stringify!($fname)));
                    }
                )*
                Ok($name(plugin))
            }
        }

        impl ::core::convert::From<$name> for $crate::Plugin {
            fn from(typed: $name) -> Self {
                typed.0
            }
        }

        impl $name {
            $(
                #[allow(missing_docs)]
                pub fn $fname<'a $($(, $lt $(: $bound)?)+)?>(
                    &'a mut self,
                    input: $input,
                ) -> ::core::result::Result<$output, $crate::Error> {
                    self.0.call(stringify!($fname), input)
                }
            )*
        }
    };
}
