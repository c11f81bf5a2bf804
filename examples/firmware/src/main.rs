//! Bare-metal firmware: runs Extism plug-ins with the `no_std` interplug core on a
//! Cortex-M4 with no operating system, prints the results over semihosting and exits
//! with status 0 when they are right, 1 otherwise.
//!
//! The plug-ins (`plugin/count_vowels.wasm`, 4 KiB, and `plugin/sensor.wasm`, 3 KiB)
//! are built from `plugin/src/index.ts` and `plugin/src/sensor.ts` with the official
//! AssemblyScript PDK by `plugin/build.sh`. `sensor.wasm` calls an async host
//! function, run by `call_async` on the few-line executor of this file. Build and run
//! on QEMU's MPS2 AN386 board:
//!
//! ```sh
//! cd examples/firmware && cargo run --release
//! ```

#![no_std]
#![no_main]

extern crate alloc;

use alloc::{format, string::String};
use core::alloc::{GlobalAlloc, Layout};
use core::future::Future;
use core::mem::MaybeUninit;
use core::pin::{pin, Pin};
use core::sync::atomic::{AtomicUsize, Ordering};
use core::task::{Context, Poll, Waker};
use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use embedded_alloc::LlffHeap as Heap;
use interplug::{host_fn_async, Function, Manifest, PluginBuilder, UserData, Wasm, PTR};

/// The plug-in, built with the official AssemblyScript PDK.
static PLUGIN_WASM: &[u8] = include_bytes!("../plugin/count_vowels.wasm");

/// A plug-in that calls the async host function `read_sensor`.
static SENSOR_WASM: &[u8] = include_bytes!("../plugin/sensor.wasm");

/// Bytes of RAM given to the heap: the plug-in's linear memory (one 64 KiB page),
/// the interpreter's code and stacks, and the Extism memory all come from it.
const HEAP_BYTES: usize = 256 * 1024;

/// Fuel for each call: a plug-in that loops forever stops with an error instead of
/// hanging the device.
const FUEL_PER_CALL: u64 = 10_000_000;

#[global_allocator]
static ALLOCATOR: PeakTracking = PeakTracking;

/// The heap itself.
static HEAP: Heap = Heap::empty();

/// The most heap bytes in use at any time, for the README's RAM figure.
static PEAK_HEAP_BYTES: AtomicUsize = AtomicUsize::new(0);

/// The heap, remembering the most bytes it ever had in use.
struct PeakTracking;

// SAFETY: every call is forwarded unchanged to `HEAP`, a correct allocator; the
// bookkeeping only reads how much it has in use.
unsafe impl GlobalAlloc for PeakTracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        let block = unsafe { HEAP.alloc(layout) };
        PEAK_HEAP_BYTES.fetch_max(HEAP.used(), Ordering::Relaxed);
        block
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc` is passed on unchanged.
        unsafe { HEAP.dealloc(ptr, layout) }
    }
}

#[entry]
fn main() -> ! {
    init_heap();
    let status = match run() {
        Ok(()) => {
            hprintln!("firmware: all checks passed");
            debug::EXIT_SUCCESS
        }
        Err(message) => {
            hprintln!("firmware: FAILED: {}", message);
            debug::EXIT_FAILURE
        }
    };
    hprintln!(
        "firmware: heap in use at exit: {} bytes, at most: {} bytes",
        HEAP.used(),
        PEAK_HEAP_BYTES.load(Ordering::Relaxed)
    );
    debug::exit(status);
    #[allow(clippy::empty_loop)]
    loop {}
}

/// Hands the static heap area to the allocator. Runs once, before any allocation.
fn init_heap() {
    static mut HEAP_MEMORY: [MaybeUninit<u8>; HEAP_BYTES] = [MaybeUninit::uninit(); HEAP_BYTES];
    // SAFETY: called once at start-up, before anything allocates; HEAP_MEMORY is used
    // by nothing else, so the allocator owns the area for the life of the program.
    unsafe { HEAP.init(core::ptr::addr_of_mut!(HEAP_MEMORY) as usize, HEAP_BYTES) }
}

/// Loads the plug-in, calls it and checks what it returns.
fn run() -> Result<(), String> {
    let manifest = Manifest::new([Wasm::data(PLUGIN_WASM.to_vec())]).with_memory_max(4);
    let mut plugin = PluginBuilder::new(manifest)
        .with_fuel_limit(FUEL_PER_CALL)
        .build()
        .map_err(|e| alloc::format!("cannot load the plug-in: {e}"))?;
    hprintln!(
        "firmware: plug-in loaded, heap in use: {} bytes",
        HEAP.used()
    );

    let input = "Hello from a Cortex-M4 with no operating system!";
    let output: &str = plugin
        .call("count_vowels", input)
        .map_err(|e| alloc::format!("count_vowels failed: {e}"))?;
    hprintln!("count_vowels({:?}) = {}", input, output);
    expect(output, r#"{"count": 13, "vowels": "aeiouAEIOU"}"#)?;

    let echoed: &[u8] = plugin
        .call("echo", b"bytes in, bytes out".as_slice())
        .map_err(|e| alloc::format!("echo failed: {e}"))?;
    hprintln!(
        "echo = {:?}",
        core::str::from_utf8(echoed).unwrap_or("<not UTF-8>")
    );
    expect_bytes(echoed, b"bytes in, bytes out")?;

    match plugin.fuel_consumed() {
        Some(fuel) => hprintln!("firmware: fuel used by the last call: {}", fuel),
        None => hprintln!("firmware: no fuel count"),
    }
    drop(plugin);
    read_sensor_async()
}

/// Polls since the firmware started: the "time" of the simulated sensor.
static POLLS: AtomicUsize = AtomicUsize::new(0);

/// A sensor conversion that takes a few polls, as an ADC's would take a few interrupts:
/// pending until then (it wakes its task each time, as an interrupt handler would).
struct Conversion {
    ready_at: usize,
}

impl Future for Conversion {
    type Output = u32;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        let now = POLLS.fetch_add(1, Ordering::Relaxed);
        if now >= self.ready_at {
            return Poll::Ready(215);
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

// `read_sensor(name) -> reading`: waits for a conversion without holding the plug-in.
host_fn_async!(read_sensor(name: String) -> String {
    let start = POLLS.load(Ordering::Relaxed);
    let raw = Conversion { ready_at: start + 3 }.await;
    Ok(format!("{}.{} C ({})", raw / 10, raw % 10, name.len()))
});

/// The executor: polls the future until it is ready (on real hardware, `wfi` between
/// polls until an interrupt wakes the task).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

/// Calls `sensor.wasm`, whose host function is async, through `call_async`.
fn read_sensor_async() -> Result<(), String> {
    let manifest = Manifest::new([Wasm::data(SENSOR_WASM.to_vec())]).with_memory_max(4);
    let read = Function::new_async("read_sensor", [PTR], [PTR], UserData::new(()), read_sensor);
    let mut plugin = PluginBuilder::new(manifest)
        .with_functions([read])
        .with_fuel_limit(FUEL_PER_CALL)
        .build()
        .map_err(|e| format!("cannot load sensor.wasm: {e}"))?;
    let before = POLLS.load(Ordering::Relaxed);
    let output: String = block_on(plugin.call_async("read", "temperature"))
        .map_err(|e| format!("read failed: {e}"))?;
    let polls = POLLS.load(Ordering::Relaxed) - before;
    hprintln!("read(\"temperature\") = {} (async host function, {} polls)", output, polls);
    expect(&output, "temperature = 21.5 C (11)")?;
    if polls < 4 {
        return Err(format!("the host function did not wait: {polls} polls"));
    }
    Ok(())
}

/// An error unless `got` is `want`.
fn expect(got: &str, want: &str) -> Result<(), String> {
    expect_bytes(got.as_bytes(), want.as_bytes())
}

/// An error unless `got` is `want`, byte for byte.
fn expect_bytes(got: &[u8], want: &[u8]) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(alloc::format!(
            "expected {:?}, got {:?}",
            String::from_utf8_lossy(want),
            String::from_utf8_lossy(got)
        ))
    }
}

/// A panic prints its message over semihosting and exits with a failure status.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    hprintln!("firmware: panic: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    #[allow(clippy::empty_loop)]
    loop {}
}
