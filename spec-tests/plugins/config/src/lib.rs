//! `config`: reads one config value by key, byte-exact.
use extism_pdk::*;

#[plugin_fn]
pub fn get_config(key: Vec<u8>) -> FnResult<Vec<u8>> {
    let key = Memory::from_bytes(&key)?;
    let handle = unsafe { extism::config_get(key.offset()) };
    if handle == 0 {
        return Ok(b"<absent>".to_vec());
    }
    let len = unsafe { extism::length(handle) } as usize;
    let mut value = vec![0u8; len];
    unsafe { extism::load(handle, &mut value) };
    Ok(value)
}
