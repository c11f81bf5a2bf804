//! `logging`: one message per level through the PDK macros, and the raw level import.
use extism_pdk::*;

#[link(wasm_import_module = "extism:host/env")]
extern "C" {
    #[link_name = "get_log_level"]
    fn raw_get_log_level() -> i32;
}

#[plugin_fn]
pub fn log_all(input: String) -> FnResult<String> {
    trace!("{}", input);
    debug!("{}", input);
    info!("{}", input);
    warn!("{}", input);
    error!("{}", input);
    Ok("logged".to_string())
}

#[plugin_fn]
pub fn log_level() -> FnResult<String> {
    let level = unsafe { raw_get_log_level() };
    Ok(level.to_string())
}
