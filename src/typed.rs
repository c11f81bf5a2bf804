//! `typed_plugin!`: a struct with one typed method per plug-in function.

/// Declares a wrapper around [`crate::Plugin`] with typed methods.
///
/// ```ignore
/// typed_plugin!(CountVowels {
///     count_vowels(&str) -> Json<Count>;
/// });
/// let mut plugin: CountVowels = Plugin::new(&manifest, [], false)?.try_into()?;
/// let Json(count) = plugin.count_vowels("hello")?;
/// ```
/// Converting a plug-in fails when one of the functions does not exist.
#[macro_export]
macro_rules! typed_plugin {
    ($pub:vis $name:ident { $($fname:ident ($input:ty) -> $output:ty);* $(;)? }) => {
        $pub struct $name(pub $crate::Plugin);

        impl ::core::convert::TryFrom<$crate::Plugin> for $name {
            type Error = $crate::Error;
            fn try_from(plugin: $crate::Plugin) -> ::core::result::Result<Self, Self::Error> {
                $(
                    if !plugin.function_exists(stringify!($fname)) {
                        return Err($crate::__private::anyhow::anyhow!(
                            "the plug-in has no function `{}`", stringify!($fname)
                        ));
                    }
                )*
                Ok($name(plugin))
            }
        }

        impl $name {
            $(
                #[allow(missing_docs)]
                pub fn $fname(&mut self, input: $input) -> ::core::result::Result<$output, $crate::Error> {
                    self.0.call(stringify!($fname), input)
                }
            )*
        }
    };
}
