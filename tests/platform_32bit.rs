//! What must hold on 32-bit hosts (i686, armv7, wasm32), where `usize` is narrower
//! than the u64 offsets and lengths of the Extism ABI, and where the interpreter's
//! dispatch must not grow the native stack. They pass on 64-bit hosts too;
//! `scripts/cross.sh i686-unknown-linux-gnu` runs them natively on 32-bit.

mod support;

use interplug::memory::ExtismMemory;
use interplug::{ErrorExt, ErrorKind, Manifest, MemoryHandle, Plugin, PluginBuilder, Wasm};
use support::{failing_host_fn, fixture_bytes};

/// A handle whose length is past `usize::MAX` (4 GiB on 32-bit hosts). With `std`,
/// `MemoryHandle` is extism-convert's type, as with the `extism` crate, and its `len()`
/// is extism-convert's (it truncates there); interplug reads a handle by its u64
/// `offset` and `length`, so such a handle is refused, never read as 5 bytes.
#[test]
fn a_memory_handle_past_the_address_space_is_refused() {
    let mut memory = ExtismMemory::new();
    let block = memory.alloc_bytes(&[7; 16]).expect("a small block");
    let handle = MemoryHandle {
        offset: block,
        length: (1 << 32) + 5,
    };
    assert!(memory.slice(handle.offset, handle.length).is_err());
    assert!(memory.slice(handle.offset, 5).is_ok());
}

/// Offsets and lengths past the host's address space are refused, not truncated,
/// and the memory stays usable.
#[test]
fn extism_memory_refuses_offsets_past_the_address_space() {
    let mut memory = ExtismMemory::new();
    let first = memory.alloc_bytes(b"kept").expect("a small block");
    for len in [u64::from(u32::MAX), 1 << 32, (1 << 32) + 8, u64::MAX] {
        assert_eq!(memory.alloc(len), None, "alloc({len}) must fail");
    }
    // An offset that truncates to a valid one on 32-bit hosts.
    let wrapped = (1u64 << 32) + first;
    assert!(memory.load_u8(wrapped).is_err());
    assert!(memory.load_u64(wrapped).is_err());
    assert!(memory.slice(first, 1 << 32).is_err());
    assert!(memory.slice(wrapped, 4).is_err());
    assert!(memory.block(wrapped).is_err());
    assert_eq!(memory.length(wrapped), 0);
    memory.free(wrapped);
    assert_eq!(memory.block(first).expect("still live"), b"kept");
    let next = memory.alloc_bytes(b"more").expect("still usable");
    assert_eq!(memory.block(next).expect("live"), b"more");
}

/// A plug-in asking the Extism memory for 4 GiB and more gets 0 (its PDK then fails
/// the call), and the plug-in works afterwards.
#[test]
fn plugin_alloc_past_the_address_space_fails_cleanly() {
    let manifest = Manifest::new([Wasm::data(fixture_bytes("limits"))]);
    let mut plugin = Plugin::new(&manifest, [failing_host_fn()], false).expect("limits.wasm loads");
    for n in [u64::from(u32::MAX), 1 << 32, (1 << 32) + 16] {
        let error = plugin
            .call::<_, &str>("extism_alloc", n.to_string().as_str())
            .expect_err("an alloc past the address space must fail");
        // The plug-in reports the failure itself (error_set, rc -1): nothing traps.
        assert_ne!(error.kind(), ErrorKind::Trap, "{error:#}");
        assert!(format!("{error:#}").contains("returned 0"), "{error:#}");
    }
    let ok: &str = plugin
        .call("extism_alloc", "1024")
        .expect("a small alloc works afterwards");
    assert_eq!(ok, "allocated");
}

/// Long calls do not grow the native stack: on i686, wasmi's tail-call dispatch
/// (chosen by `auto-dispatch` there) overflowed it after a few thousand wasm
/// instructions and aborted the whole process. `compute 1000000` runs tens of
/// millions of instructions; `echo` of 1 MiB runs about 260 000 host calls.
#[test]
fn long_calls_do_not_grow_the_native_stack() {
    let manifest = Manifest::new([Wasm::data(fixture_bytes("limits"))]);
    let mut plugin = PluginBuilder::new(manifest)
        .with_functions([failing_host_fn()])
        .build()
        .expect("limits.wasm loads");
    let x: &str = plugin.call("compute", "1000000").expect("compute runs");
    assert_eq!(x, "14278579856471926526");

    let mut echo = Plugin::new(
        Manifest::new([Wasm::data(fixture_bytes("echo"))]),
        [],
        false,
    )
    .expect("echo.wasm loads");
    let input: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let output: Vec<u8> = echo.call("echo", input.as_slice()).expect("echo runs");
    assert!(output == input, "the 1 MiB echo differs");

    let mut vowels = Plugin::new(
        Manifest::new([Wasm::data(fixture_bytes("count_vowels"))]),
        [],
        false,
    )
    .expect("count_vowels.wasm loads");
    let text = "hello world ".repeat(1000);
    let counted: &str = vowels
        .call("count_vowels", text.as_str())
        .expect("count_vowels runs");
    assert_eq!(
        counted,
        r#"{"count":3000,"total":3000,"vowels":"aeiouAEIOU"}"#
    );
}

/// WASI plug-ins and the bulk-I/O pass run on every target, 32-bit x86 included:
/// wasmi 2.0.0 crashed the process there (SIGSEGV) when an import looked up the
/// calling module's memory through the engine (`Caller::get_export`), so interplug
/// used to refuse WASI and skip the pass on that target. The memory is now found once,
/// at instantiation. A WASI plug-in reads clocks and random numbers, writes, and
/// sleeps; an echo of 256 KiB goes through the bulk copies, for a fraction of the fuel
/// the PDK's copy loops take.
#[cfg(feature = "wasi")]
#[test]
fn wasi_and_the_bulk_pass_run_here() {
    let mut wasi = Plugin::new(
        Manifest::new([Wasm::data(fixture_bytes("wasi_fs"))]),
        [],
        true,
    )
    .expect("a WASI plug-in loads");
    let output: &str = wasi.call("clock_random", "").expect("clocks and random");
    assert_eq!(output, "ok");
    let output: &str = wasi.call("print", "to nowhere").expect("fd_write");
    assert_eq!(output, "printed");
    let mut sleeper = Plugin::new(
        Manifest::new([Wasm::data(fixture_bytes("wasi_hostile"))]),
        [],
        true,
    )
    .expect("a WASI plug-in loads");
    let output: &str = sleeper.call("sleep_ms", "5").expect("poll_oneoff");
    assert_eq!(output, "slept");

    let input: Vec<u8> = (0..256 << 10)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let mut fuel = Vec::new();
    for bulk_io in [true, false] {
        let mut echo = PluginBuilder::new(Manifest::new([Wasm::data(fixture_bytes("echo"))]))
            .with_wasi(true)
            .with_bulk_io(bulk_io)
            .with_fuel_limit(u64::MAX)
            .build()
            .expect("echo.wasm loads");
        let output: Vec<u8> = echo.call("echo", input.as_slice()).expect("echo runs");
        assert!(output == input, "the echo differs (bulk I/O {bulk_io})");
        fuel.push(echo.fuel_consumed().expect("fuel is metered"));
    }
    let (bulk, loops) = (fuel[0], fuel[1]);
    assert!(
        bulk * 4 < loops,
        "bulk copies used {bulk} fuel, the loops {loops}"
    );
}
