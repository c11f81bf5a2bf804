//! Benchmark (not a test): the cost of the fuzzing instrumentation per call, the
//! same input run on the plain plug-in and through `interplug::fuzzing::Harness`
//! (instrumented, what each call recorded read back and cleared).
//!
//! `cargo run --release -p interplug-cli --example instrumentation_cost`

use interplug::fuzzing::Harness;
use interplug::{Manifest, Plugin, Wasm};
use std::time::{Duration, Instant};

const CALLS: u32 = 20_000;

fn per_call(mut call: impl FnMut()) -> Duration {
    for _ in 0..CALLS / 10 {
        call();
    }
    let start = Instant::now();
    for _ in 0..CALLS {
        call();
    }
    start.elapsed() / CALLS
}

fn main() -> Result<(), interplug::Error> {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../spec-tests/fixtures");
    let cases: [(&str, &str, &[u8]); 5] = [
        (
            "count_vowels",
            "count_vowels",
            b"hello world, a longer sentence with vowels",
        ),
        ("echo", "echo", &[7u8; 1024]),
        ("planted", "nested", b"N\x0d\xf0\xde\xc0\x02\x03\x02ab"),
        ("planted", "header", b"IPLG\x03\x00\x02ab"),
        ("planted", "keyword", b"FUZZWORx"),
    ];
    println!("| plug-in function, input | plain | instrumented + trace read | ratio |");
    println!("|---|---:|---:|---:|");
    for (fixture, function, input) in cases {
        let manifest = Manifest::new([Wasm::file(format!("{fixtures}/{fixture}.wasm"))]);
        let mut plain = Plugin::new(&manifest, [], false)?;
        let mut harness = Harness::new(&manifest, [], false)?;
        let a = per_call(|| {
            let _ = plain.call::<&[u8], &[u8]>(function, input);
        });
        let b = per_call(|| {
            let _ = harness.call(function, input);
        });
        println!(
            "| `{fixture}` `{function}`, {} B | {:.1} us | {:.1} us | {:.2}x |",
            input.len(),
            a.as_secs_f64() * 1e6,
            b.as_secs_f64() * 1e6,
            b.as_secs_f64() / a.as_secs_f64()
        );
    }
    Ok(())
}
