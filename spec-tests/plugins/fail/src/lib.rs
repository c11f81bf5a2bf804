//! `fail`: the ways a plug-in call can fail, and one that does not.
use extism_pdk::*;

/// Sets the error message `failed on purpose: <input>` and returns rc -1.
#[plugin_fn]
pub fn fail(input: Vec<u8>) -> FnResult<()> {
    let input = String::from_utf8_lossy(&input);
    Err(Error::msg(format!("failed on purpose: {input}")).into())
}

/// Returns 3 without setting any error message or output.
#[no_mangle]
pub extern "C" fn nonzero() -> i32 {
    3
}

#[plugin_fn]
pub fn ok() -> FnResult<String> {
    Ok("ok".to_string())
}
