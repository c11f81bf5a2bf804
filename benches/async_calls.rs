//! Async calls measured in one run (the table of docs/performance.md, "Async calls"):
//!
//! ```sh
//! cargo bench -p interplug --bench async_calls              # N = 1000, 2000, 10000
//! cargo bench -p interplug --bench async_calls -- 1000 2000 # other N
//! ```
//!
//! 1. N concurrent `call_async`s on a 2-worker tokio runtime, each on its own instance
//!    of one compiled `host_fns.wasm` whose `hello_world` awaits a 10 ms timer: wall
//!    time from the first spawn to the last result (instances made and instantiated
//!    before), for each instance's first call and for its second; the same calls with a
//!    sync host function sleeping 10 ms, on two threads, for N = 2000. Each N runs in a
//!    process of its own; an N whose instances would not fit in the memory available
//!    is skipped.
//! 2. Heap per suspended call: the bytes the process holds (counting allocator) when all
//!    N calls wait on a gate in the host function, minus before they started, over N.
//! 3. One suspend/resume: a call whose async host function is pending once, against
//!    the same call with a sync host function, on one thread.
//! 4. `call_async` against `call` for a call that never waits (`count_vowels`, 1 KiB).
//! 5. Yields: `count_vowels` on 1 MiB with `with_yield_fuel(100_000)` against none,
//!    both through `call_async` on a current-thread runtime.
//!
//! 3 to 5 run their cases interleaved and report the calling thread's CPU time per
//! call (`/proc/thread-self/schedstat`), which the load of other processes does not
//! inflate as it does wall time.
#![allow(clippy::disallowed_macros, clippy::disallowed_methods)]

#[path = "../tests/support/counting_alloc.rs"]
mod counting_alloc;

use interplug::{
    host_fn, host_fn_async, CompiledPlugin, Function, Manifest, Plugin, PluginBuilder, UserData,
    Wasm, PTR,
};
use interplug_spec_tests::fixtures::{bytes as fixture_bytes, text};
use std::{
    future::Future,
    hint::black_box,
    pin::pin,
    sync::atomic::{AtomicUsize, Ordering},
    sync::Arc,
    task::{Context, Poll, Waker},
    time::{Duration, Instant},
};

/// What the gate of the heap measurement shares with the host function.
struct Gate {
    /// Off: the host function answers at once (the warm-up calls).
    closed: std::sync::atomic::AtomicBool,
    arrived: AtomicUsize,
    open: tokio::sync::Semaphore,
}

host_fn_async!(timer_hello(name: String) -> String {
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(format!("Hello, {name}!"))
});

host_fn_async!(gated_hello(gate: Arc<Gate>; name: String) -> String {
    let gate = gate.get()?.lock().unwrap().clone();
    if gate.closed.load(Ordering::SeqCst) {
        gate.arrived.fetch_add(1, Ordering::SeqCst);
        let _permit = gate.open.acquire().await?;
    }
    Ok(format!("Hello, {name}!"))
});

host_fn_async!(pending_once_hello(name: String) -> String {
    PendingOnce(false).await;
    Ok(format!("Hello, {name}!"))
});

host_fn_async!(ready_hello(name: String) -> String {
    Ok(format!("Hello, {name}!"))
});

host_fn!(sync_hello(name: String) -> String {
    Ok(format!("Hello, {name}!"))
});

host_fn!(sleeping_hello(name: String) -> String {
    std::thread::sleep(Duration::from_millis(10));
    Ok(format!("Hello, {name}!"))
});

/// `host_fns.wasm` with `f` for each of its three imports.
fn host_fns(make: impl Fn(&str) -> Function) -> PluginBuilder<'static> {
    PluginBuilder::new(Manifest::new([Wasm::data(fixture_bytes("host_fns"))])).with_functions([
        make("hello_world"),
        make("panic_now"),
        make("shout").with_namespace("example:other"),
    ])
}

fn two_workers() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("runtime")
}

/// Pending once (waking itself), then ready.
struct PendingOnce(bool);
impl Future for PendingOnce {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if std::mem::replace(&mut self.0, true) {
            return Poll::Ready(());
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// The smallest executor: polls with a waker that does nothing.
fn poll_to_end<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

/// Nanoseconds this thread has run on a CPU (`/proc/thread-self/schedstat`), if the
/// system says: unlike wall time, it does not count the time other processes take
/// the CPU from this one.
fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// Time of one call of each op: `rounds` rounds, each running every op `per_round`
/// times in turn (so that load from other processes hits all alike); the thread's CPU
/// time over all rounds divided by the calls (the median wall time of a round where
/// the system does not give CPU time).
fn interleaved<const K: usize>(
    rounds: u32,
    per_round: u32,
    mut ops: [&mut dyn FnMut(); K],
) -> [Duration; K] {
    let mut walls: [Vec<Duration>; K] = std::array::from_fn(|_| Vec::new());
    let mut cpu = [Some(0u64); K];
    for _ in 0..rounds {
        for ((op, walls), cpu) in ops.iter_mut().zip(&mut walls).zip(&mut cpu) {
            let (start, cpu_start) = (Instant::now(), thread_cpu_ns());
            for _ in 0..per_round {
                op();
            }
            walls.push(start.elapsed() / per_round);
            *cpu = match (*cpu, cpu_start, thread_cpu_ns()) {
                (Some(total), Some(from), Some(to)) => Some(total + to.saturating_sub(from)),
                _ => None,
            };
        }
    }
    let calls = u64::from(rounds) * u64::from(per_round);
    std::array::from_fn(|k| match cpu[k] {
        Some(total) => Duration::from_nanos(total / calls),
        None => {
            let mut walls = walls[k].clone();
            walls.sort();
            walls[walls.len() / 2]
        }
    })
}

/// Bytes of memory the system says are available (`MemAvailable`), if it says.
fn memory_available() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Resident bytes of this process (`VmRSS`), if the system says.
fn resident() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// N instances of `compiled`, and the resident bytes each added.
fn instances(compiled: &CompiledPlugin, n: usize) -> (Vec<Plugin>, Option<u64>) {
    let before = resident();
    let plugins: Vec<Plugin> = (0..n)
        .map(|_| {
            let mut plugin = Plugin::new_from_compiled(compiled).expect("plug-in");
            // Instantiated now (it would be at the first call): instance memory.
            plugin.instantiate().expect("instance");
            plugin
        })
        .collect();
    let each = match (before, resident()) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before) / n as u64),
        _ => None,
    };
    (plugins, each)
}

/// Wall times of N concurrent timer calls on two workers: the first call of each
/// instance, then a second one.
fn concurrent_timer_calls(compiled: &CompiledPlugin, n: usize) -> ([Duration; 2], Option<u64>) {
    let before = resident();
    let (mut plugins, _) = instances(compiled, n);
    let runtime = two_workers();
    let mut walls = [Duration::ZERO; 2];
    for wall in &mut walls {
        let (time, back) = runtime.block_on(async {
            let start = Instant::now();
            let tasks: Vec<_> = plugins
                .drain(..)
                .enumerate()
                .map(|(i, mut plugin)| {
                    tokio::spawn(async move {
                        let output: String = plugin
                            .call_async("call_host", format!("{i}"))
                            .await
                            .expect("call");
                        assert_eq!(output, format!("Hello, {i}!"));
                        plugin
                    })
                })
                .collect();
            let mut back = Vec::with_capacity(n);
            for task in tasks {
                back.push(task.await.expect("task"));
            }
            (start.elapsed(), back)
        });
        *wall = time;
        plugins = back;
    }
    // What each instance holds after its calls (its first call grows its memory).
    let per_instance = match (before, resident()) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before) / n as u64),
        _ => None,
    };
    drop(plugins);
    (walls, per_instance)
}

/// Heap bytes per call while N calls wait in the host function.
fn heap_per_suspended_call(n: usize) -> i64 {
    let gate = Arc::new(Gate {
        closed: std::sync::atomic::AtomicBool::new(false),
        arrived: AtomicUsize::new(0),
        open: tokio::sync::Semaphore::new(0),
    });
    let data = UserData::new(gate.clone());
    let compiled = CompiledPlugin::new(host_fns(|name| {
        Function::new_async(name, [PTR], [PTR], data.clone(), gated_hello)
    }))
    .expect("compiles");
    let (mut plugins, _) = instances(&compiled, n);
    // A first call on each instance grows its linear memory (the plug-in's allocator
    // asks for a page, and the engine's buffer doubles): instance memory, not the call's.
    for plugin in &mut plugins {
        let _: String = plugin.call("call_host", "warm-up").expect("call");
    }
    gate.closed.store(true, Ordering::SeqCst);
    let runtime = two_workers();
    let inputs: Vec<String> = (0..n).map(|i| format!("{i}")).collect();
    runtime.block_on(async {
        let before = counting_alloc::live();
        let tasks: Vec<_> = plugins
            .into_iter()
            .zip(inputs)
            .map(|(mut plugin, input)| {
                tokio::spawn(async move {
                    let _: String = plugin.call_async("call_host", input).await.expect("call");
                })
            })
            .collect();
        while gate.arrived.load(Ordering::SeqCst) < n {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // The `tasks` vector's own bytes are not the calls'.
        let tasks_vec = (tasks.capacity() * std::mem::size_of_val(&tasks[0])) as isize;
        let per_call = (counting_alloc::live() - before - tasks_vec) as i64 / n as i64;
        gate.open.add_permits(n);
        for task in tasks {
            task.await.expect("task");
        }
        per_call
    })
}

/// N calls whose host function sleeps 10 ms, on two threads.
fn blocking_calls(n: usize) -> Duration {
    let compiled = CompiledPlugin::new(host_fns(|name| {
        Function::new(name, [PTR], [PTR], UserData::new(()), sleeping_hello)
    }))
    .expect("compiles");
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..2 {
            let compiled = &compiled;
            scope.spawn(move || {
                let mut plugin = Plugin::new_from_compiled(compiled).expect("instance");
                for i in 0..n / 2 {
                    let _: String = plugin.call("call_host", format!("{i}")).expect("call");
                }
            });
        }
    });
    start.elapsed()
}

/// `--only OP ITERATIONS`: runs one op of the suspend/resume measurement (`sync`,
/// `ready`, `pending`) or of the yield measurement (`plain-1m`, `yield-1m`, polled by a
/// loop) that many times and nothing else, for instruction counts under callgrind (run it with two
/// iteration counts and divide the difference: the set-up cancels out).
fn only(op: &str, iterations: u32) {
    if let Some(yield_fuel) = match op {
        "plain-1m" => Some(None),
        "yield-1m" => Some(Some(100_000)),
        _ => None,
    } {
        let builder = PluginBuilder::new(fixture_bytes("count_vowels"));
        let mut plugin = match yield_fuel {
            Some(fuel) => builder.with_yield_fuel(fuel),
            None => builder,
        }
        .build()
        .expect("loads");
        let input = text(1 << 20);
        for _ in 0..iterations {
            let call = plugin.call_async::<&[u8], &[u8]>("count_vowels", &input);
            black_box(poll_to_end(call).expect("call"));
        }
        return;
    }
    let make = match op {
        "sync" => |name: &str| Function::new(name, [PTR], [PTR], UserData::new(()), sync_hello),
        "ready" => {
            |name: &str| Function::new_async(name, [PTR], [PTR], UserData::new(()), ready_hello)
        }
        _ => |name: &str| {
            Function::new_async(name, [PTR], [PTR], UserData::new(()), pending_once_hello)
        },
    };
    let mut plugin = host_fns(make).build().expect("loads");
    for _ in 0..iterations {
        let output = match op {
            "sync" => plugin.call::<&str, &[u8]>("call_host", "x"),
            _ => poll_to_end(plugin.call_async::<&str, &[u8]>("call_host", "x")),
        };
        black_box(output.expect("call"));
    }
}

/// `--concurrency N`: the rows of N concurrent timer calls, and a line
/// `per-instance BYTES` for the memory estimate of the next N.
fn concurrency(n: usize) {
    let compiled = CompiledPlugin::new(host_fns(|name| {
        Function::new_async(name, [PTR], [PTR], UserData::new(()), timer_hello)
    }))
    .expect("compiles");
    let ([cold, warm], each) = concurrent_timer_calls(&compiled, n);
    let target = if n == 2_000 { "< 300 ms" } else { "" };
    println!(
        "| {n} concurrent calls awaiting a 10 ms timer, 2 workers, each instance's first \
         call | {cold:.1?} | |"
    );
    println!(
        "| {n} concurrent calls, as above, each instance's second call | {warm:.1?} | {target} |"
    );
    if let Some(each) = each {
        println!("per-instance {each}");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--concurrency") {
        let n = args
            .get(at + 1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(1000);
        return concurrency(n);
    }
    if let Some(at) = args.iter().position(|a| a == "--only") {
        let op = args.get(at + 1).map_or("pending", String::as_str);
        let iterations = args
            .get(at + 2)
            .and_then(|n| n.parse().ok())
            .unwrap_or(1000);
        return only(op, iterations);
    }
    let mut counts: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    if counts.is_empty() {
        counts = vec![1_000, 2_000, 10_000];
    }
    println!("| measurement | result | target |");
    println!("|---|---:|---:|");

    let mut per_instance: Option<u64> = None;
    for &n in &counts {
        if let (Some(each), Some(available)) = (per_instance, memory_available()) {
            let need = each * n as u64;
            if need > available / 2 {
                println!(
                    "| {n} concurrent calls | skipped: instances need ~{} MiB, {} MiB available | |",
                    need >> 20,
                    available >> 20
                );
                continue;
            }
        }
        // Each N in a process of its own: the allocator's state after one N (glibc
        // moves its mmap threshold up when large blocks are freed, and the next N's
        // linear memories then grow by copying) does not slow the next.
        let child = std::process::Command::new(std::env::current_exe().expect("this program"))
            .args(["--concurrency", &n.to_string()])
            .output()
            .expect("the measuring process");
        for line in String::from_utf8_lossy(&child.stdout).lines() {
            match line.strip_prefix("per-instance ") {
                Some(bytes) => per_instance = per_instance.or(bytes.parse().ok()),
                None => println!("{line}"),
            }
        }
        if !child.status.success() {
            println!("| {n} concurrent calls | failed: {} | |", child.status);
        }
    }
    if let Some(each) = per_instance {
        println!(
            "| resident memory per instance after its calls (instance memory, not counted below) | {} KiB | |",
            each >> 10
        );
    }
    println!(
        "| 2000 calls with a sync host function sleeping 10 ms, 2 threads | {:.2?} | |",
        blocking_calls(2_000)
    );
    for &n in counts.iter().filter(|&&n| n <= 2_000) {
        println!(
            "| heap per suspended call ({n} waiting) | {} B | <= 8192 B |",
            heap_per_suspended_call(n)
        );
    }

    // One suspend/resume.
    let plugin_with = |f: fn(&str) -> Function| host_fns(f).build().expect("loads");
    let mut sync =
        plugin_with(|name| Function::new(name, [PTR], [PTR], UserData::new(()), sync_hello));
    let mut ready =
        plugin_with(|name| Function::new_async(name, [PTR], [PTR], UserData::new(()), ready_hello));
    let mut pending = plugin_with(|name| {
        Function::new_async(name, [PTR], [PTR], UserData::new(()), pending_once_hello)
    });
    let [sync_time, ready_time, pending_time] = interleaved(
        21,
        5_000,
        [
            &mut || {
                black_box(sync.call::<&str, &[u8]>("call_host", "x").expect("call"));
            },
            &mut || {
                let call = ready.call_async::<&str, &[u8]>("call_host", "x");
                black_box(poll_to_end(call).expect("call"));
            },
            &mut || {
                let call = pending.call_async::<&str, &[u8]>("call_host", "x");
                black_box(poll_to_end(call).expect("call"));
            },
        ],
    );
    println!("| call with a sync host function (`call`) | {sync_time:.2?} | |");
    println!("| same, async host function ready at once (`call_async`) | {ready_time:.2?} | |");
    println!("| same, async host function pending once (`call_async`) | {pending_time:.2?} | |");
    println!(
        "| one suspend/resume (pending once - sync) | {:.2?} | <= 3 us |",
        pending_time.saturating_sub(sync_time)
    );

    // call_async against call, no wait.
    let mut sync = Plugin::new(fixture_bytes("count_vowels"), [], false).expect("loads");
    let mut polled = Plugin::new(fixture_bytes("count_vowels"), [], false).expect("loads");
    let mut in_tokio = Plugin::new(fixture_bytes("count_vowels"), [], false).expect("loads");
    let input = text(1024);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let [call_time, async_time, tokio_time] = interleaved(
        21,
        200,
        [
            &mut || {
                black_box(
                    sync.call::<&[u8], &[u8]>("count_vowels", &input)
                        .expect("call"),
                );
            },
            &mut || {
                let call = polled.call_async::<&[u8], &[u8]>("count_vowels", &input);
                black_box(poll_to_end(call).expect("call"));
            },
            &mut || {
                let call = in_tokio.call_async::<&[u8], &[u8]>("count_vowels", &input);
                black_box(runtime.block_on(call).expect("call"));
            },
        ],
    );
    println!("| count_vowels 1 KiB, `call` | {call_time:.2?} | |");
    println!(
        "| count_vowels 1 KiB, `call_async` (polled once) | {async_time:.2?} ({:.3}x) | <= 1.25x |",
        async_time.as_secs_f64() / call_time.as_secs_f64()
    );
    println!(
        "| count_vowels 1 KiB, `call_async` in tokio `block_on` | {tokio_time:.2?} ({:.3}x) | |",
        tokio_time.as_secs_f64() / call_time.as_secs_f64()
    );

    // Yield overhead.
    let count_vowels = |yield_fuel: Option<u64>| {
        let builder = PluginBuilder::new(fixture_bytes("count_vowels"));
        match yield_fuel {
            Some(fuel) => builder.with_yield_fuel(fuel),
            None => builder,
        }
        .build()
        .expect("loads")
    };
    let input = text(1 << 20);
    let mut plain = count_vowels(None);
    let mut yielding = count_vowels(Some(100_000));
    let mut yielding_polled = count_vowels(Some(100_000));
    let [plain_time, yield_time, polled_time] = interleaved(
        15,
        1,
        [
            &mut || {
                let call = plain.call_async::<&[u8], &[u8]>("count_vowels", &input);
                black_box(runtime.block_on(call).expect("call"));
            },
            &mut || {
                let call = yielding.call_async::<&[u8], &[u8]>("count_vowels", &input);
                black_box(runtime.block_on(call).expect("call"));
            },
            &mut || {
                let call = yielding_polled.call_async::<&[u8], &[u8]>("count_vowels", &input);
                black_box(poll_to_end(call).expect("call"));
            },
        ],
    );
    let yields = yielding.fuel_consumed().unwrap_or(0) / 100_000;
    let overhead = |time: Duration| (time.as_secs_f64() / plain_time.as_secs_f64() - 1.0) * 100.0;
    println!(
        "| count_vowels 1 MiB, `call_async` in tokio `block_on`, no yields | {plain_time:.2?} | |"
    );
    println!(
        "| same, `with_yield_fuel(100_000)` ({yields} yields) | {yield_time:.2?} ({:+.1}%) | <= +5% |",
        overhead(yield_time)
    );
    println!(
        "| same, polled by a loop instead of tokio | {polled_time:.2?} ({:+.1}%) | |",
        overhead(polled_time)
    );
}
