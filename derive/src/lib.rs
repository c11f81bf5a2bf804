//! `#[derive(ToBytes)]` and `#[derive(FromBytes)]` for interplug, the derives
//! `extism::convert` offers: a type with `#[encoding(Json)]` (or any encoding wrapper
//! `E<T>(pub T)`, e.g. one made with `encoding!`) converts through that encoding.
//! Re-exported as `interplug::convert::{ToBytes, FromBytes}`; the generated code names
//! interplug by the name the deriving crate gives it (`extism` when renamed), and
//! implements the traits of `interplug::convert`, which with `std` are the
//! `extism-convert` crate's (the `extism` crate's own). The `extism-convert` crate has
//! derives of its own, but they name `::extism_convert` or `::extism::convert` and so
//! do not build in a host that uses interplug under its own name without depending on
//! `extism-convert`: this crate stays for that.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::quote;
use syn::{parse_macro_input, parse_quote, DeriveInput, Ident, Path};

/// The path of interplug in the crate being compiled.
fn interplug_path() -> Path {
    match proc_macro_crate::crate_name("interplug") {
        Ok(proc_macro_crate::FoundCrate::Itself) => parse_quote!(crate),
        Ok(proc_macro_crate::FoundCrate::Name(name)) => {
            let ident = Ident::new(&name, Span::call_site());
            parse_quote!(::#ident)
        }
        // Not a direct dependency: assume the usual rename.
        Err(_) => parse_quote!(::extism),
    }
}

/// The type named by the one `#[encoding(Type)]` attribute.
fn encoding_of(input: &DeriveInput) -> Result<Path, syn::Error> {
    let mut found = input
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("encoding"));
    let Some(attr) = found.next() else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "add `#[encoding(Json)]` (or another encoding) to say how the type is converted",
        ));
    };
    if let Some(extra) = found.next() {
        return Err(syn::Error::new_spanned(
            extra,
            "give only one `#[encoding(...)]` attribute",
        ));
    }
    attr.parse_args::<Path>()
}

/// `impl ToBytes for T` through `Encoding<&T>`.
#[proc_macro_derive(ToBytes, attributes(encoding))]
pub fn derive_to_bytes(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    to_bytes(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

fn to_bytes(input: &DeriveInput) -> Result<TokenStream2, syn::Error> {
    let encoding = encoding_of(input)?;
    let root = interplug_path();
    let name = &input.ident;
    let (_, type_args, _) = input.generics.split_for_impl();
    let mut generics = input.generics.clone();
    generics.params.insert(0, parse_quote!('__interplug_a));
    generics.make_where_clause().predicates.push(parse_quote!(
        for<'__interplug_b> #encoding<&'__interplug_b Self>: #root::convert::ToBytes<'__interplug_b>
    ));
    let (impl_params, _, where_clause) = generics.split_for_impl();
    Ok(quote! {
        impl #impl_params #root::convert::ToBytes<'__interplug_a> for #name #type_args #where_clause {
            type Bytes = #root::__private::Vec<u8>;
            fn to_bytes(&self) -> ::core::result::Result<Self::Bytes, #root::Error> {
                let encoded = #root::convert::ToBytes::to_bytes(&#encoding(self))?;
                ::core::result::Result::Ok(::core::convert::AsRef::<[u8]>::as_ref(&encoded).into())
            }
        }
    })
}

/// `impl FromBytesOwned for T` through `Encoding<T>`.
#[proc_macro_derive(FromBytes, attributes(encoding))]
pub fn derive_from_bytes(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    from_bytes(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

fn from_bytes(input: &DeriveInput) -> Result<TokenStream2, syn::Error> {
    let encoding = encoding_of(input)?;
    let root = interplug_path();
    let name = &input.ident;
    let mut generics = input.generics.clone();
    generics
        .make_where_clause()
        .predicates
        .push(parse_quote!(#encoding<Self>: #root::convert::FromBytesOwned));
    let (impl_params, type_args, where_clause) = generics.split_for_impl();
    Ok(quote! {
        impl #impl_params #root::convert::FromBytesOwned for #name #type_args #where_clause {
            fn from_bytes_owned(data: &[u8]) -> ::core::result::Result<Self, #root::Error> {
                let #encoding(value) =
                    <#encoding<Self> as #root::convert::FromBytesOwned>::from_bytes_owned(data)?;
                ::core::result::Result::Ok(value)
            }
        }
    })
}
