//! `vars`: set, get and remove plug-in vars, byte-exact.
use extism_pdk::*;

#[plugin_fn]
pub fn var_set(input: Vec<u8>) -> FnResult<String> {
    let eq = input
        .iter()
        .position(|&b| b == b'=')
        .ok_or_else(|| Error::msg("var_set expects key=value"))?;
    let key = Memory::from_bytes(&input[..eq])?;
    // An empty value gives handle 0 (alloc(0) is 0), which removes the var.
    let value = Memory::from_bytes(&input[eq + 1..])?;
    unsafe { extism::var_set(key.offset(), value.offset()) };
    Ok("ok".to_string())
}

#[plugin_fn]
pub fn var_get(key: Vec<u8>) -> FnResult<Vec<u8>> {
    let key = Memory::from_bytes(&key)?;
    let handle = unsafe { extism::var_get(key.offset()) };
    if handle == 0 {
        return Ok(b"<absent>".to_vec());
    }
    let len = unsafe { extism::length(handle) } as usize;
    let mut value = vec![0u8; len];
    unsafe { extism::load(handle, &mut value) };
    Ok(value)
}

#[plugin_fn]
pub fn var_remove(key: Vec<u8>) -> FnResult<String> {
    let key = Memory::from_bytes(&key)?;
    unsafe { extism::var_set(key.offset(), 0) };
    Ok("ok".to_string())
}
