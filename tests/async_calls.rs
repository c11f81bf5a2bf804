//! Async host functions and async calls on real plug-ins (`host_fns.wasm`, which
//! imports `hello_world`, `panic_now` and `example:other` `shout`; `limits.wasm`): many
//! calls waiting on two threads, cancel, timeout, yields, sync calls of async host
//! functions, dropped futures, panics, current-thread runtimes and an executor that
//! uses nothing of `std`.

mod support;
use interplug::{
    host_fn_async, typed_plugin, CompiledPlugin, CurrentPlugin, ErrorExt, ErrorKind, Function,
    Manifest, Plugin, PluginBuilder, PoolBuilder, UserData, Val, Wasm, PTR,
};
use std::{
    future::Future,
    pin::pin,
    sync::atomic::{AtomicBool, AtomicUsize, Ordering},
    sync::Arc,
    task::{Context, Poll, Waker},
    time::{Duration, Instant},
};
use support::fixture_bytes;

/// A two-worker multi-thread runtime, as the issue asks.
fn two_workers() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("runtime")
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
}

/// `host_fns.wasm` with `hello` as its `hello_world` (its other two imports are never
/// called here).
fn host_fns(hello: Function) -> PluginBuilder<'static> {
    PluginBuilder::new(Manifest::new([Wasm::data(fixture_bytes("host_fns"))])).with_functions([
        hello,
        unused("panic_now"),
        unused("shout").with_namespace("example:other"),
    ])
}

/// A host function these tests never call.
fn unused(name: &str) -> Function {
    Function::new(
        name,
        [PTR],
        [PTR],
        UserData::<()>::default(),
        |_: &mut CurrentPlugin, _: &[Val], _: &mut [Val], _: UserData<()>| {
            Err(interplug::Error::new(interplug::Failure::new(
                ErrorKind::Invalid,
                "not used by these tests",
            )))
        },
    )
}

host_fn_async!(sleepy_hello(delay_ms: u64; name: String) -> String {
    let delay = *delay_ms.get()?.lock().unwrap();
    tokio::time::sleep(Duration::from_millis(delay)).await;
    Ok(format!("Hello, {name}!"))
});

fn sleepy(delay_ms: u64) -> Function {
    Function::new_async(
        "hello_world",
        [PTR],
        [PTR],
        UserData::new(delay_ms),
        sleepy_hello,
    )
}

/// Sets a flag when dropped: shows a host future was dropped.
struct DropFlag(Arc<AtomicBool>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// What a never-ending host function shares with its test.
#[derive(Default)]
struct Forever {
    started: tokio::sync::Notify,
    dropped: Arc<AtomicBool>,
}

/// A `hello_world` whose future never ends (until dropped).
fn forever(state: Arc<Forever>) -> Function {
    Function::new_async(
        "hello_world",
        [PTR],
        [PTR],
        UserData::new(()),
        move |_: &mut CurrentPlugin, _: &[Val], _: UserData<()>| {
            let state = state.clone();
            async move {
                let _flag = DropFlag(state.dropped.clone());
                state.started.notify_one();
                std::future::pending::<()>().await;
                Ok(|_: &mut CurrentPlugin, _: &mut [Val]| Ok(()))
            }
        },
    )
}

#[test]
fn many_calls_wait_together_on_two_threads() {
    // Every host future waits until all calls have reached it: calls that held a thread
    // while waiting could never all get there with two threads.
    const CALLS: usize = 200;
    let barrier = Arc::new(tokio::sync::Barrier::new(CALLS));
    let meet = Function::new_async(
        "hello_world",
        [PTR],
        [PTR],
        UserData::new(()),
        move |plugin: &mut CurrentPlugin, inputs: &[Val], _: UserData<()>| {
            let name: Result<String, _> = plugin.memory_get_val(&inputs[0]);
            let barrier = barrier.clone();
            async move {
                let name = name?;
                barrier.wait().await;
                Ok(move |plugin: &mut CurrentPlugin, outputs: &mut [Val]| {
                    plugin.memory_set_val(&mut outputs[0], format!("met {name}"))
                })
            }
        },
    );
    let compiled = CompiledPlugin::new(host_fns(meet)).expect("compiles");
    let outputs = two_workers().block_on(async {
        let tasks: Vec<_> = (0..CALLS)
            .map(|i| {
                let mut plugin = Plugin::new_from_compiled(&compiled).expect("instance");
                tokio::spawn(async move {
                    plugin
                        .call_async::<String, String>("call_host", format!("#{i}"))
                        .await
                })
            })
            .collect();
        let all = async {
            let mut outputs = Vec::new();
            for task in tasks {
                outputs.push(task.await.expect("task").expect("call"));
            }
            outputs
        };
        tokio::time::timeout(Duration::from_secs(60), all)
            .await
            .expect("every call met the others")
    });
    for (i, output) in outputs.iter().enumerate() {
        assert_eq!(output, &format!("met #{i}"));
    }
}

#[test]
fn cancel_ends_an_awaiting_call_and_drops_the_host_future() {
    let state = Arc::new(Forever::default());
    let mut plugin = host_fns(forever(state.clone())).build().expect("loads");
    let cancel = plugin.cancel_handle();
    let runtime = two_workers();
    let (error, waited) = runtime.block_on(async {
        let canceller = {
            let state = state.clone();
            tokio::spawn(async move {
                state.started.notified().await;
                tokio::time::sleep(Duration::from_millis(20)).await;
                (Instant::now(), cancel.cancel())
            })
        };
        let error = plugin
            .call_async::<&str, String>("call_host", "x")
            .await
            .expect_err("cancelled");
        let (cancelled_at, result) = canceller.await.expect("canceller");
        result.expect("cancel");
        (error, cancelled_at.elapsed())
    });
    assert_eq!(error.kind(), ErrorKind::Cancelled, "{error:#}");
    assert!(state.dropped.load(Ordering::SeqCst), "host future dropped");
    assert!(
        waited < Duration::from_secs(5),
        "ended promptly: {waited:?}"
    );
    // Usable afterwards, with a host function that ends.
    let mut plugin = host_fns(sleepy(1)).build().expect("loads");
    let output: String = runtime
        .block_on(plugin.call_async("call_host", "again"))
        .expect("usable");
    assert_eq!(output, "Hello, again!");
}

#[test]
fn timeout_ends_an_awaiting_call() {
    let state = Arc::new(Forever::default());
    let mut plugin = host_fns(forever(state.clone()))
        .with_manifest(
            Manifest::new([Wasm::data(fixture_bytes("host_fns"))])
                .with_timeout(Duration::from_millis(100)),
        )
        .build()
        .expect("loads");
    let start = Instant::now();
    let error = current_thread()
        .block_on(plugin.call_async::<&str, String>("call_host", "x"))
        .expect_err("timed out");
    let elapsed = start.elapsed();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error:#}");
    assert!(state.dropped.load(Ordering::SeqCst), "host future dropped");
    assert!(elapsed >= Duration::from_millis(100), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

/// `limits.wasm` (its `panic_now` import unused here).
fn limits(yield_fuel: Option<u64>) -> Plugin {
    let mut builder = PluginBuilder::new(Manifest::new([Wasm::data(fixture_bytes("limits"))]))
        .with_functions([unused("panic_now")]);
    if let Some(fuel) = yield_fuel {
        builder = builder.with_yield_fuel(fuel);
    }
    builder.build().expect("loads")
}

/// How often another task ran during a long `compute` call on a one-thread runtime.
fn ticks_during_long_call(yield_fuel: Option<u64>) -> (usize, Option<u64>) {
    let mut plugin = limits(yield_fuel);
    let ticks = Arc::new(AtomicUsize::new(0));
    let seen = current_thread().block_on(async {
        let ticker = {
            let ticks = ticks.clone();
            tokio::spawn(async move {
                loop {
                    ticks.fetch_add(1, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                }
            })
        };
        let output: String = plugin
            .call_async("compute", "1000000")
            .await
            .expect("computes");
        assert_eq!(output, "14278579856471926526");
        // Read before this task gives the thread back: only ticks made while the call
        // yielded count.
        let seen = ticks.load(Ordering::SeqCst);
        ticker.abort();
        seen
    });
    (seen, plugin.fuel_consumed())
}

#[test]
fn a_long_call_yields_and_other_tasks_progress() {
    let (ticks, fuel) = ticks_during_long_call(Some(100_000));
    let fuel = fuel.expect("metered");
    assert!(
        ticks as u64 >= fuel / 100_000 / 2,
        "{ticks} ticks for {fuel} fuel"
    );
    // Without yields, the other task never runs while the call does, and the fuel is
    // counted the same.
    let (ticks, unyielded_fuel) = ticks_during_long_call(None);
    assert_eq!(ticks, 0);
    assert_eq!(unyielded_fuel, Some(fuel));
}

#[test]
fn sync_call_of_an_async_host_function_waits_on_the_calling_thread() {
    // A future woken from another thread (no runtime here).
    let from_thread = Function::new_async(
        "hello_world",
        [PTR],
        [PTR],
        UserData::new(()),
        |plugin: &mut CurrentPlugin, inputs: &[Val], _: UserData<()>| {
            let name: Result<String, _> = plugin.memory_get_val(&inputs[0]);
            let (send, receive) = tokio::sync::oneshot::channel();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(30));
                let _ = send.send(());
            });
            async move {
                let name = name?;
                receive.await.expect("sender");
                Ok(move |plugin: &mut CurrentPlugin, outputs: &mut [Val]| {
                    plugin.memory_set_val(&mut outputs[0], format!("late {name}"))
                })
            }
        },
    );
    let mut plugin = host_fns(from_thread).build().expect("loads");
    for _ in 0..3 {
        let output: String = plugin.call("call_host", "Ada").expect("waits");
        assert_eq!(output, "late Ada");
    }

    // A sync call waiting forever still ends: at the timeout, and on cancel.
    let state = Arc::new(Forever::default());
    let manifest = Manifest::new([Wasm::data(fixture_bytes("host_fns"))])
        .with_timeout(Duration::from_millis(100));
    let mut plugin = host_fns(forever(state.clone()))
        .with_manifest(manifest)
        .build()
        .expect("loads");
    let error = plugin.call::<&str, String>("call_host", "x").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error:#}");
    assert!(state.dropped.load(Ordering::SeqCst));

    let state = Arc::new(Forever::default());
    let mut plugin = host_fns(forever(state.clone())).build().expect("loads");
    let canceller = support::cancel_after(&plugin, Duration::from_millis(50));
    let error = plugin.call::<&str, String>("call_host", "x").unwrap_err();
    canceller.join();
    assert_eq!(error.kind(), ErrorKind::Cancelled, "{error:#}");
    assert!(state.dropped.load(Ordering::SeqCst));
}

#[test]
fn a_future_dropped_mid_call_leaves_the_plugin_usable() {
    let state = Arc::new(Forever::default());
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = {
        let calls = calls.clone();
        let state = state.clone();
        Function::new_async(
            "hello_world",
            [PTR],
            [PTR],
            UserData::new(()),
            move |plugin: &mut CurrentPlugin, inputs: &[Val], _: UserData<()>| {
                let name: Result<String, _> = plugin.memory_get_val(&inputs[0]);
                let first = calls.fetch_add(1, Ordering::SeqCst) == 0;
                let state = state.clone();
                async move {
                    let _flag = DropFlag(state.dropped.clone());
                    if first {
                        std::future::pending::<()>().await;
                    }
                    let name = name?;
                    Ok(move |plugin: &mut CurrentPlugin, outputs: &mut [Val]| {
                        plugin.memory_set_val(&mut outputs[0], format!("hi {name}"))
                    })
                }
            },
        )
    };
    let mut plugin = host_fns(counted).build().expect("loads");
    plugin
        .current_plugin()
        .set_var("kept", Some(b"yes"))
        .expect("var");
    {
        let mut future = pin!(plugin.call_async::<&str, String>("call_host", "first"));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(future.as_mut().poll(&mut cx).is_pending());
        assert!(future.as_mut().poll(&mut cx).is_pending());
    }
    assert!(state.dropped.load(Ordering::SeqCst), "host future dropped");
    // The next calls, sync and async, run on a rebuilt instance; vars are kept.
    let output: String = plugin.call("call_host", "second").expect("usable");
    assert_eq!(output, "hi second");
    let output: String = current_thread()
        .block_on(plugin.call_async("call_host", "third"))
        .expect("usable");
    assert_eq!(output, "hi third");
    assert_eq!(
        plugin
            .current_plugin()
            .vars()
            .get("kept")
            .map(Vec::as_slice),
        Some(b"yes".as_slice())
    );
}

host_fn_async!(panics_after_await(name: String) -> String {
    tokio::task::yield_now().await;
    if name == "boom" {
        panic!("host future blew up on purpose");
    }
    Ok(name)
});

#[test]
fn panics_in_a_host_future_are_contained() {
    let f = Function::new_async(
        "hello_world",
        [PTR],
        [PTR],
        UserData::new(()),
        panics_after_await,
    );
    let mut plugin = host_fns(f).build().expect("loads");
    let runtime = current_thread();
    let error = runtime
        .block_on(plugin.call_async::<&str, String>("call_host", "boom"))
        .expect_err("the panic fails the call");
    assert_eq!(error.kind(), ErrorKind::Host);
    let text = format!("{error:#}");
    assert!(text.contains("host future blew up on purpose"), "{text}");
    assert!(text.contains("hello_world"), "{text}");
    let output: String = runtime
        .block_on(plugin.call_async("call_host", "fine"))
        .expect("usable");
    assert_eq!(output, "fine");
}

#[test]
fn current_thread_runtime_runs_many_waiting_calls() {
    let compiled = CompiledPlugin::new(host_fns(sleepy(20))).expect("compiles");
    let outputs = current_thread().block_on(async {
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let mut plugin = Plugin::new_from_compiled(&compiled).expect("instance");
                tokio::spawn(async move {
                    plugin
                        .call_async::<String, String>("call_host", format!("{i}"))
                        .await
                })
            })
            .collect();
        let mut outputs = Vec::new();
        for task in tasks {
            outputs.push(task.await.expect("task").expect("call"));
        }
        outputs
    });
    assert_eq!(outputs.len(), 50);
    assert_eq!(outputs[7], "Hello, 7!");
}

/// Pending once, then ready: a future that needs its waker.
#[derive(Default)]
struct PendingOnce(bool);
impl Future for PendingOnce {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

host_fn_async!(pending_once(name: String) -> String {
    PendingOnce::default().await;
    Ok(format!("polled twice for {name}"))
});

/// The smallest executor: polls with a waker that does nothing, using only `core`.
fn poll_to_end<F: Future>(future: F) -> (F::Output, usize) {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    let mut polls = 0;
    loop {
        polls += 1;
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return (output, polls);
        }
    }
}

#[test]
fn an_executor_without_std_drives_async_calls_and_yields() {
    let f = Function::new_async("hello_world", [PTR], [PTR], UserData::new(()), pending_once);
    let mut plugin = host_fns(f).with_yield_fuel(1_000).build().expect("loads");
    let (output, polls) = poll_to_end(plugin.call_async::<&str, String>("call_host", "core"));
    assert_eq!(output.expect("call"), "polled twice for core");
    assert!(polls >= 2, "{polls}");
    // Yields show as extra polls.
    let mut plugin = limits(Some(10_000));
    let (output, polls) = poll_to_end(plugin.call_async::<&str, String>("compute", "10000"));
    assert_eq!(output.expect("call"), output_of_compute_10000());
    assert!(polls > 5, "{polls}");
}

/// `compute("10000")`, from a sync call.
fn output_of_compute_10000() -> String {
    limits(None).call("compute", "10000").expect("computes")
}

#[test]
fn fuel_limit_and_fuel_counts_hold_across_waits() {
    let f = Function::new_async("hello_world", [PTR], [PTR], UserData::new(()), pending_once);
    let mut plugin = host_fns(f).build().expect("loads");
    // The first call sets up the plug-in's allocator; the next ones cost the same.
    let _: String = plugin.call("call_host", "x").expect("sync");
    let _: String = plugin.call("call_host", "x").expect("sync");
    let sync_fuel = plugin.fuel_consumed().expect("metered");
    let (output, _) = poll_to_end(plugin.call_async::<&str, String>("call_host", "x"));
    output.expect("async");
    assert_eq!(plugin.fuel_consumed(), Some(sync_fuel));

    // A fuel limit below what the call needs stops it, across the wait too.
    let f = Function::new_async("hello_world", [PTR], [PTR], UserData::new(()), pending_once);
    let mut plugin = host_fns(f)
        .with_fuel_limit(sync_fuel - 1)
        .build()
        .expect("loads");
    let (output, _) = poll_to_end(plugin.call_async::<&str, String>("call_host", "x"));
    assert_eq!(
        output.expect_err("out of fuel").kind(),
        ErrorKind::OutOfFuel
    );
}

typed_plugin!(Limits {
    async compute(&str) -> String;
    recurse(&str) -> String
});

#[test]
fn typed_plugins_have_async_methods_and_pools_lend_without_blocking() {
    let runtime = two_workers();
    let plugin = limits(Some(100_000));
    let mut typed: Limits = plugin.try_into().expect("has compute and recurse");
    let output = runtime.block_on(typed.compute("10")).expect("computes");
    assert_eq!(output, "17818939798065174182");
    assert_eq!(typed.recurse("1").expect("recurses"), "30");
    let plugin = host_fns(sleepy(1)).build().expect("loads");
    assert!(Limits::try_from(plugin).is_err(), "host_fns has no compute");

    let compiled = CompiledPlugin::new(host_fns(sleepy(20))).expect("compiles");
    let pool = PoolBuilder::new()
        .with_max_instances(2)
        .build(move || Plugin::new_from_compiled(&compiled));
    let outputs = runtime.block_on(async {
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    let mut plugin = pool
                        .get_async(Duration::from_secs(30))
                        .await?
                        .expect("an instance in time");
                    plugin
                        .call_async::<String, String>("call_host", format!("{i}"))
                        .await
                })
            })
            .collect();
        let mut outputs = Vec::new();
        for task in tasks {
            outputs.push(task.await.expect("task").expect("call"));
        }
        outputs
    });
    assert_eq!(outputs[3], "Hello, 3!");
    assert_eq!(pool.count(), 2);
    // With both instances lent, a short wait ends with none.
    let (a, b) = (
        pool.get(Duration::from_secs(1)),
        pool.get(Duration::from_secs(1)),
    );
    let none = runtime
        .block_on(pool.get_async(Duration::from_millis(30)))
        .expect("no error");
    assert!(none.is_none());
    drop((a, b));
}

/// `http.wasm`'s `http_request` under `call_async`: the request runs on its worker
/// while the executor's only thread runs other tasks; the timeout still ends it.
#[cfg(feature = "http")]
#[test]
fn http_requests_do_not_block_the_executor_thread() {
    use support::http_server::TestServer;
    let server = TestServer::start();
    let manifest =
        || Manifest::new([Wasm::data(fixture_bytes("http"))]).with_allowed_host("127.0.0.1");
    let input = |path: &str| serde_json::json!({ "url": server.url(path) }).to_string();
    let mut plugin = Plugin::new(manifest(), [], false).expect("loads");
    let runtime = current_thread();
    let (output, ticks) = runtime.block_on(async {
        let ticks = Arc::new(AtomicUsize::new(0));
        let ticker = {
            let ticks = ticks.clone();
            tokio::spawn(async move {
                loop {
                    ticks.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        };
        let output: String = plugin
            .call_async("http_request", input("/slow/300"))
            .await
            .expect("the request");
        let seen = ticks.load(Ordering::SeqCst);
        ticker.abort();
        (output, seen)
    });
    assert!(output.contains(r#""status":200"#), "{output}");
    assert!(output.contains(r#""body":"slow""#), "{output}");
    assert!(
        ticks > 1,
        "the other task ran {ticks} times during the request"
    );

    let mut plugin = Plugin::new(
        manifest().with_timeout(Duration::from_millis(200)),
        [],
        false,
    )
    .expect("loads");
    let start = Instant::now();
    let error = runtime
        .block_on(plugin.call_async::<String, String>("http_request", input("/slow/5000")))
        .expect_err("timed out");
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error:#}");
    assert!(format!("{error:#}").contains("/slow/5000"), "{error:#}");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn an_async_host_function_in_a_start_function_waits_on_the_thread() {
    // A start function runs inside instantiation, which cannot be suspended: the host
    // function's future is waited for there, under the same limits.
    let wat = r#"(module
        (import "extism:host/user" "tick" (func $tick (param i64) (result i64)))
        (global $seen (mut i64) (i64.const 0))
        (func $init (global.set $seen (call $tick (i64.const 41))))
        (start $init)
        (func (export "seen") (result i32) (i32.wrap_i64 (global.get $seen))))"#;
    let tick = || {
        Function::new_async(
            "tick",
            [interplug::ValType::I64],
            [interplug::ValType::I64],
            UserData::new(()),
            |_: &mut CurrentPlugin, inputs: &[Val], _: UserData<()>| {
                let value = inputs[0].unwrap_i64();
                async move {
                    PendingOnce::default().await;
                    Ok(move |_: &mut CurrentPlugin, outputs: &mut [Val]| {
                        outputs[0] = Val::I64(value + 1);
                        Ok(())
                    })
                }
            },
        )
    };
    let mut plugin = Plugin::new(wat, [tick()], false).expect("loads");
    let (_, rc) = plugin
        .call_get_error_code::<&str, &[u8]>("seen", "")
        .unwrap_err();
    assert_eq!(rc, 42);
    let mut plugin = Plugin::new(wat, [tick()], false).expect("loads");
    let (output, _) = poll_to_end(plugin.call_async_get_error_code::<&str, &[u8]>("seen", ""));
    assert_eq!(output.map(|_| ()).unwrap_err().1, 42);
}

/// `wasi_hostile.wasm`'s `sleep_ms` (`std::thread::sleep`, one WASI `poll_oneoff` on a
/// relative clock) under `call_async`: the executor's only thread runs other tasks
/// while the plug-in sleeps; the timeout and a cancel still end the sleep.
#[test]
fn wasi_sleeps_do_not_block_the_executor_thread() {
    let manifest = || Manifest::new([Wasm::data(fixture_bytes("wasi_hostile"))]);
    let mut plugin = Plugin::new(manifest(), [], true).expect("loads");
    let runtime = current_thread();
    let (output, ticks) = runtime.block_on(async {
        let ticks = Arc::new(AtomicUsize::new(0));
        let ticker = {
            let ticks = ticks.clone();
            tokio::spawn(async move {
                loop {
                    ticks.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        };
        let output: String = plugin
            .call_async("sleep_ms", "200")
            .await
            .expect("the sleep");
        let seen = ticks.load(Ordering::SeqCst);
        ticker.abort();
        (output, seen)
    });
    assert_eq!(output, "slept");
    assert!(
        ticks > 1,
        "the other task ran {ticks} times during the sleep"
    );

    const ONE_HOUR_MS: &str = "3600000";
    let mut plugin = Plugin::new(
        manifest().with_timeout(Duration::from_millis(200)),
        [],
        true,
    )
    .expect("loads");
    let start = Instant::now();
    let error = runtime
        .block_on(plugin.call_async::<&str, String>("sleep_ms", ONE_HOUR_MS))
        .expect_err("timed out");
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error:#}");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    let output: String = runtime
        .block_on(plugin.call_async("sleep_ms", "5"))
        .expect("usable");
    assert_eq!(output, "slept");

    let mut plugin = Plugin::new(manifest(), [], true).expect("loads");
    let canceller = support::cancel_after(&plugin, Duration::from_millis(100));
    let error = runtime
        .block_on(plugin.call_async::<&str, String>("sleep_ms", ONE_HOUR_MS))
        .expect_err("cancelled");
    canceller.join();
    assert_eq!(error.kind(), ErrorKind::Cancelled, "{error:#}");
    assert!(format!("{error:#}").contains("poll_oneoff"), "{error:#}");
}
