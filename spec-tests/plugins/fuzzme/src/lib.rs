//! `fuzzme`: ASCII-uppercases its input, with a planted bug for fuzzers to find.
use extism_pdk::*;

#[plugin_fn]
pub fn parse(input: Vec<u8>) -> FnResult<Vec<u8>> {
    // The planted bug: 13..=16 bytes starting with '#' panics (an `unreachable` trap).
    if (13..=16).contains(&input.len()) && input[0] == b'#' {
        panic!("planted bug: {} bytes starting with '#'", input.len());
    }
    Ok(input.to_ascii_uppercase())
}
