//! libFuzzer on a plug-in's own code: the input goes to one plug-in function, run
//! instrumented by `interplug::fuzzing::Harness`, and the plug-in's block hit
//! counters (plus how many bytes each of its comparisons matched) are copied into
//! libFuzzer's extra counters after every run, so libFuzzer's corpus, minimisation
//! (`-merge=1`) and dictionaries work on the plug-in's branches. A trap (or a
//! timeout, running out of memory) is a crash; an error the plug-in returns is not.
//!
//! The plug-in and function come from `INTERPLUG_FUZZ_PLUGIN` (a .wasm path,
//! default `spec-tests/fixtures/count_vowels.wasm`) and `INTERPLUG_FUZZ_FUNCTION`
//! (default `count_vowels`):
//!
//! ```sh
//! INTERPLUG_FUZZ_PLUGIN=../spec-tests/fixtures/planted.wasm INTERPLUG_FUZZ_FUNCTION=nested \
//!   cargo +nightly fuzz run -O plugin_coverage seeds/plugin_coverage
//! ```
#![no_main]

use interplug::fuzzing::Harness;
use interplug::{ErrorExt, ErrorKind, Manifest, Wasm};
use libfuzzer_sys::fuzz_target;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Counter slots shared with libFuzzer: plug-in blocks and comparison sites are
/// folded into them.
const SLOTS: usize = 1 << 16;

/// libFuzzer reads every byte of this section after each run (Linux/ELF: the
/// linker's `__start_`/`__stop_` symbols of the section give it the bounds).
#[used]
#[link_section = "__libfuzzer_extra_counters"]
static EXTRA_COUNTERS: [AtomicU8; SLOTS] = [const { AtomicU8::new(0) }; SLOTS];

/// libFuzzer's hit-count classes start at these values: one per matching byte.
const MATCH_CLASS: [u8; 9] = [1, 2, 3, 4, 8, 16, 32, 128, 255];

struct Target {
    harness: Harness,
    function: String,
}

fn target() -> &'static Mutex<Target> {
    static TARGET: OnceLock<Mutex<Target>> = OnceLock::new();
    TARGET.get_or_init(|| {
        let path = std::env::var("INTERPLUG_FUZZ_PLUGIN").unwrap_or_else(|_| {
            format!(
                "{}/../spec-tests/fixtures/count_vowels.wasm",
                env!("CARGO_MANIFEST_DIR")
            )
        });
        let function =
            std::env::var("INTERPLUG_FUZZ_FUNCTION").unwrap_or_else(|_| "count_vowels".into());
        let manifest = Manifest::new([Wasm::file(&path)])
            .with_timeout(Duration::from_secs(2))
            .with_memory_max(1024);
        let harness = Harness::new(&manifest, [], false)
            .unwrap_or_else(|e| panic!("cannot load `{path}` for fuzzing: {e:#}"));
        Mutex::new(Target { harness, function })
    })
}

fuzz_target!(|data: &[u8]| {
    let mut target = target().lock().unwrap_or_else(|p| p.into_inner());
    let Target { harness, function } = &mut *target;
    let result = harness.call(function, data);
    let trace = harness.trace();
    for (block, count) in trace.counters.iter().enumerate() {
        if *count != 0 {
            EXTRA_COUNTERS[block % SLOTS].store(*count, Ordering::Relaxed);
        }
    }
    let sites_from = trace.counters.len();
    for comparison in &trace.compares {
        let class = MATCH_CLASS[comparison.matching_bytes().min(8) as usize];
        EXTRA_COUNTERS[(sites_from + comparison.site as usize) % SLOTS]
            .store(class, Ordering::Relaxed);
    }
    if let Err(error) = result {
        match error.kind() {
            ErrorKind::Plugin { .. } | ErrorKind::Exit { .. } => {}
            _ => panic!(
                "the plug-in failed ({}) at {}: {error:#}",
                error.kind().name(),
                harness.map().describe_location(&harness.trace().location)
            ),
        }
    }
});
