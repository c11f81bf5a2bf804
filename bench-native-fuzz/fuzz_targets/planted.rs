//! libFuzzer on one function of the `planted` plug-in, compiled natively: the raw
//! input is the function's input, as `interplug fuzz` gives it to the plug-in. The
//! function is named by `PLANTED_FUNCTION` (e.g. `nested`); a planted bug is a panic,
//! which libFuzzer reports as a crash.
#![no_main]

use interplug_bench_native_fuzz::{function, PluginFunction, FUNCTIONS};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static TARGET: OnceLock<PluginFunction> = OnceLock::new();

fn chosen() -> PluginFunction {
    let name = std::env::var("PLANTED_FUNCTION").unwrap_or_default();
    function(&name).unwrap_or_else(|| {
        let names: Vec<&str> = FUNCTIONS.iter().map(|(known, _)| *known).collect();
        eprintln!("set PLANTED_FUNCTION to one of: {}", names.join(", "));
        std::process::exit(2)
    })
}

fuzz_target!(
    init: {
        TARGET.get_or_init(chosen);
    },
    |data: &[u8]| {
        let target = TARGET.get_or_init(chosen);
        let _ = std::hint::black_box(target(data.to_vec()));
    }
);
