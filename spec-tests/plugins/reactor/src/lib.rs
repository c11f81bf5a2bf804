//! `reactor`: a WASI (preview 1) reactor. wasm-ld puts the `.init_array` function pointer
//! below into `__wasm_call_ctors`, which the module's `_initialize` export runs. The host
//! must call `_initialize` exactly once, before the first plug-in call; `init_count` then
//! reports 1 on every call.
//!
//! A Rust cdylib gets no `_initialize` of its own (wasi-libc's crt1-reactor.o is not
//! linked), and without an explicit reference to `__wasm_call_ctors` wasm-ld would wrap
//! every export so that the constructors ran before each call. So `_initialize` is defined
//! here, like crt1-reactor's: it runs the constructors and traps (`unreachable`) if called
//! a second time.
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use extism_pdk::*;

static INIT_COUNT: AtomicU32 = AtomicU32::new(0);

extern "C" fn constructor() {
    INIT_COUNT.fetch_add(1, Ordering::SeqCst);
}

#[used]
#[unsafe(link_section = ".init_array")]
static CONSTRUCTOR: extern "C" fn() = constructor;

extern "C" {
    /// Synthesized by wasm-ld: runs the `.init_array` entries (and wasi-libc's).
    fn __wasm_call_ctors();
}

static INITIALIZED: AtomicBool = AtomicBool::new(false);

#[export_name = "_initialize"]
pub extern "C" fn initialize() {
    if INITIALIZED.swap(true, Ordering::SeqCst) {
        core::arch::wasm32::unreachable();
    }
    unsafe { __wasm_call_ctors() };
}

#[plugin_fn]
pub fn init_count() -> FnResult<String> {
    Ok(INIT_COUNT.load(Ordering::SeqCst).to_string())
}
