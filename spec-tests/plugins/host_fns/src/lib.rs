//! `host_fns`: calls host functions in the default namespace and in another one.
use extism_pdk::*;

#[host_fn]
extern "ExtismHost" {
    fn hello_world(input: Vec<u8>) -> Vec<u8>;
    fn panic_now(input: String) -> String;
}

#[host_fn("example:other")]
extern "ExtismHost" {
    fn shout(input: Vec<u8>) -> Vec<u8>;
}

#[plugin_fn]
pub fn call_host(input: Vec<u8>) -> FnResult<Vec<u8>> {
    Ok(unsafe { hello_world(input)? })
}

#[plugin_fn]
pub fn call_other(input: Vec<u8>) -> FnResult<Vec<u8>> {
    Ok(unsafe { shout(input)? })
}

#[plugin_fn]
pub fn call_panicking(input: String) -> FnResult<String> {
    Ok(unsafe { panic_now(input)? })
}
