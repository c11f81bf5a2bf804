//! Criterion benchmarks of interplug on the official-PDK fixtures.
//!
//! ```sh
//! cargo bench -p interplug --bench runtime            # everything (a few minutes)
//! cargo bench -p interplug --bench runtime -- echo    # one group
//! ```
//!
//! Groups: `create` (from bytes, from a compiled plug-in), `echo` (call overhead with
//! 0 B to 1 MiB), `count_vowels` (4 KiB to 1 MiB of text), `host_fn` (one host
//! function round trip), `vars` (`var_set` / `var_get`) and `interruption` (a
//! compute-heavy call with interruption support on, off, and with a fuel limit).
//! Side-by-side numbers against the official runtime come from `bench-compare`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use interplug::{CompiledPlugin, Plugin, PluginBuilder};
use interplug_spec_tests::cases::{host_fns, HostFn};
use interplug_spec_tests::fixtures::{bytes as fixture_bytes, text, with_custom_section};

/// A plug-in of `wasm` without WASI or host functions.
fn plugin(wasm: &[u8]) -> Plugin {
    Plugin::new(wasm, [], false).expect("fixture plug-in")
}

/// Short measurements: the whole suite runs in a few minutes.
fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

fn create(c: &mut Criterion) {
    let wasm = fixture_bytes("count_vowels");
    let mut group = c.benchmark_group("create");
    group.bench_function("from_bytes", |b| {
        b.iter(|| drop(black_box(plugin(&wasm))));
    });
    // A custom section with a counter makes every module new, so nothing is reused
    // between iterations: the cost of a first load.
    let mut counter = 0u64;
    group.bench_function("from_new_bytes", |b| {
        b.iter_batched(
            || {
                counter += 1;
                with_custom_section(&wasm, b"interplug-test", counter.to_string().as_bytes())
            },
            |bytes| drop(black_box(plugin(&bytes))),
            criterion::BatchSize::SmallInput,
        );
    });
    let compiled = CompiledPlugin::new(PluginBuilder::new(&wasm)).expect("compile");
    group.bench_function("from_compiled", |b| {
        b.iter(|| {
            drop(black_box(
                Plugin::new_from_compiled(&compiled).expect("instantiate"),
            ))
        });
    });
    group.finish();
}

fn echo(c: &mut Criterion) {
    let mut plugin = plugin(&fixture_bytes("echo"));
    let mut group = c.benchmark_group("echo");
    for size in [0usize, 1 << 10, 64 << 10, 1 << 20] {
        let input: Vec<u8> = (0..size).map(|i| (i * 31 + 7) as u8).collect();
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &input, |b, input| {
            b.iter(|| {
                let out: &[u8] = plugin
                    .call("echo", black_box(input.as_slice()))
                    .expect("echo");
                black_box(out.len())
            });
        });
    }
    group.finish();
}

fn count_vowels(c: &mut Criterion) {
    let mut plugin = plugin(&fixture_bytes("count_vowels"));
    let mut group = c.benchmark_group("count_vowels");
    for size in [4usize << 10, 64 << 10, 1 << 20] {
        let input = text(size);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &input, |b, input| {
            b.iter(|| {
                let out: &[u8] = plugin
                    .call("count_vowels", black_box(input.as_slice()))
                    .expect("count_vowels");
                black_box(out.len())
            });
        });
    }
    group.finish();
}

fn host_fn(c: &mut Criterion) {
    let mut plugin = PluginBuilder::new(fixture_bytes("host_fns"))
        .with_functions(host_fns().iter().map(HostFn::to_interplug))
        .build()
        .expect("host_fns plug-in");
    c.benchmark_group("host_fn")
        .bench_function("call_host", |b| {
            b.iter(|| {
                let out: &[u8] = plugin
                    .call("call_host", black_box("Ada"))
                    .expect("call_host");
                black_box(out.len())
            });
        });
}

fn vars(c: &mut Criterion) {
    let mut plugin = plugin(&fixture_bytes("vars"));
    let mut group = c.benchmark_group("vars");
    group.bench_function("var_set", |b| {
        b.iter(|| {
            let out: &[u8] = plugin
                .call("var_set", black_box("key=value"))
                .expect("var_set");
            black_box(out.len())
        });
    });
    group.bench_function("var_get", |b| {
        b.iter(|| {
            let out: &[u8] = plugin.call("var_get", black_box("key")).expect("var_get");
            black_box(out.len())
        });
    });
    group.finish();
}

fn interruption(c: &mut Criterion) {
    let wasm = fixture_bytes("limits");
    // limits.wasm imports `panic_now`; the compute loop never calls it.
    let build = |builder: PluginBuilder<'_>| {
        builder
            .with_functions(host_fns().iter().map(HostFn::to_interplug))
            .build()
            .expect("limits plug-in")
    };
    let mut group = c.benchmark_group("interruption");
    let cases = [
        (
            "on",
            build(PluginBuilder::new(&wasm).with_interruption(true)),
        ),
        (
            "off",
            build(PluginBuilder::new(&wasm).with_interruption(false)),
        ),
        (
            "fuel_limit",
            build(PluginBuilder::new(&wasm).with_fuel_limit(1 << 40)),
        ),
    ];
    for (name, mut plugin) in cases {
        group.bench_function(BenchmarkId::new("compute_1e6", name), |b| {
            b.iter(|| {
                let out: &[u8] = plugin
                    .call("compute", black_box("1000000"))
                    .expect("compute");
                black_box(out.len())
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = create, echo, count_vowels, host_fn, vars, interruption
}
criterion_main!(benches);
