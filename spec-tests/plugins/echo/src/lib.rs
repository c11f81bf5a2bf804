//! `echo`: byte-exact round trip of the input, and its length.
use extism_pdk::*;

#[plugin_fn]
pub fn echo(input: Vec<u8>) -> FnResult<Vec<u8>> {
    Ok(input)
}

#[plugin_fn]
pub fn length(input: Vec<u8>) -> FnResult<String> {
    Ok(input.len().to_string())
}
