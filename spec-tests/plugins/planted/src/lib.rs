//! `planted`: binary-format checks of several shapes, each guarding a planted bug (a
//! panic, which is an `unreachable` trap) for coverage-guided fuzzers to find.
//! Every function returns a short status for inputs that fail a check.
use extism_pdk::*;

fn status(text: &str) -> FnResult<Vec<u8>> {
    Ok(text.as_bytes().to_vec())
}

/// A byte magic: the first byte is 0xA5.
#[plugin_fn]
pub fn byte_magic(input: Vec<u8>) -> FnResult<Vec<u8>> {
    if input.first() == Some(&0xA5) {
        panic!("planted bug: byte magic");
    }
    status("no magic")
}

/// A 32-bit magic, read little endian.
#[plugin_fn]
pub fn magic32(input: Vec<u8>) -> FnResult<Vec<u8>> {
    if input.len() < 4 {
        return status("short");
    }
    let magic = u32::from_le_bytes([input[0], input[1], input[2], input[3]]);
    if magic == 0x7A1C_E5B3 {
        panic!("planted bug: 32-bit magic");
    }
    status("bad magic")
}

/// A 16-bit big-endian field after a tag byte.
#[plugin_fn]
pub fn field16(input: Vec<u8>) -> FnResult<Vec<u8>> {
    if input.len() < 3 {
        return status("short");
    }
    let field = u16::from_be_bytes([input[1], input[2]]);
    if field == 0xBEEF {
        panic!("planted bug: 16-bit field");
    }
    status("field ok")
}

/// A length field that must match the rest of the input, and be large.
#[plugin_fn]
pub fn length_field(input: Vec<u8>) -> FnResult<Vec<u8>> {
    let Some((&declared, rest)) = input.split_first() else {
        return status("empty");
    };
    if declared as usize == rest.len() && declared >= 20 {
        panic!("planted bug: length field");
    }
    status("length ok")
}

/// Nested checks: a tag byte, a 32-bit magic, a 16-bit version, a length byte
/// matching the body, then a checksum-like byte relation.
#[plugin_fn]
pub fn nested(input: Vec<u8>) -> FnResult<Vec<u8>> {
    if input.len() < 10 {
        return status("short");
    }
    if input[0] != b'N' {
        return status("bad tag");
    }
    if u32::from_le_bytes([input[1], input[2], input[3], input[4]]) != 0xC0DE_F00D {
        return status("bad magic");
    }
    if u16::from_be_bytes([input[5], input[6]]) != 0x0203 {
        return status("bad version");
    }
    if input[7] as usize != input.len() - 8 {
        return status("bad length");
    }
    if input[8] ^ input[9] == 0x5A {
        panic!("planted bug: nested checks");
    }
    status("nested ok")
}

/// A compare loop over an 8-byte keyword.
#[plugin_fn]
pub fn keyword(input: Vec<u8>) -> FnResult<Vec<u8>> {
    const KEYWORD: &[u8; 8] = b"FUZZWORD";
    if input.len() < KEYWORD.len() {
        return status("short");
    }
    let mut i = 0;
    while i < KEYWORD.len() {
        if input[i] != core::hint::black_box(KEYWORD)[i] {
            return status("no keyword");
        }
        i += 1;
    }
    panic!("planted bug: keyword");
}

/// A typical binary header: a 4-byte magic, a 16-bit version, then a length byte
/// the parser trusts (the body slice panics when it is longer than the input).
#[plugin_fn]
pub fn header(input: Vec<u8>) -> FnResult<Vec<u8>> {
    if input.len() < 7 || &input[0..4] != b"IPLG" {
        return status("not a header");
    }
    let version = u16::from_le_bytes([input[4], input[5]]);
    if version != 3 {
        return status("unsupported version");
    }
    let length = input[6] as usize;
    let body = &input[7..7 + length];
    Ok(body.iter().rev().copied().collect())
}
