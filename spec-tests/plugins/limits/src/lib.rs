//! `limits`: a hostile plug-in for limit, trap and cancellation tests.
use core::hint::black_box;
use extism_pdk::*;

const MIB: usize = 1 << 20;

#[host_fn]
extern "ExtismHost" {
    fn panic_now(input: String) -> String;
}

fn parse_u64(s: &str) -> Result<u64, Error> {
    s.trim()
        .parse()
        .map_err(|e| Error::msg(format!("invalid number {s:?}: {e}")))
}

/// Spins forever without calling the host.
#[export_name = "infinite_loop"]
pub extern "C" fn infinite_loop() -> i32 {
    let mut x: u64 = 0;
    loop {
        x = black_box(x.wrapping_add(1));
    }
}

/// One wasm call frame per level, no shadow-stack (linear memory) use; not a tail call.
#[inline(never)]
fn rec(n: u32) -> u32 {
    if n == 0 {
        return 1;
    }
    rec(n - 1).wrapping_mul(31) ^ n
}

#[plugin_fn]
pub fn recurse(input: String) -> FnResult<String> {
    let depth: u32 = input
        .trim()
        .parse()
        .map_err(|e| Error::msg(format!("invalid depth {input:?}: {e}")))?;
    Ok(rec(depth).to_string())
}

/// Allocates 1 MiB chunks of linear memory forever, writing one byte per 4 KiB.
#[export_name = "alloc_loop"]
pub extern "C" fn alloc_loop() -> i32 {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; MIB];
        for i in (0..MIB).step_by(4096) {
            chunk[i] = 1;
        }
        chunks.push(black_box(chunk));
    }
}

/// One `alloc(n)` in the Extism memory (n = decimal input); the block is not freed.
#[plugin_fn]
pub fn extism_alloc(input: String) -> FnResult<String> {
    let n = parse_u64(&input)?;
    let handle = unsafe { extism::alloc(n) };
    if handle == 0 && n > 0 {
        return Err(Error::msg(format!("alloc({n}) returned 0")).into());
    }
    Ok("allocated".to_string())
}

/// Sets vars k0, k1, ... to 64 KiB values until the host fails the call.
#[plugin_fn]
pub fn var_flood() -> FnResult<()> {
    let value = vec![b'v'; 64 * 1024];
    let mut i: u64 = 0;
    loop {
        var::set(format!("k{i}"), &value)?;
        i += 1;
    }
}

/// Logs a 1 MiB message at info level forever (whatever the log level is).
#[plugin_fn]
pub fn log_flood() -> FnResult<()> {
    let message = vec![b'x'; MIB];
    loop {
        let block = Memory::from_bytes(&message)?;
        block.log(LogLevel::Info);
    }
}

/// Division by zero, checked: the call fails with the plug-in error "integer divide by
/// zero". Safe Rust cannot emit a bare `i32.div_s` (the old version promised the
/// compiler a false condition, undefined behaviour); the real division trap is tested
/// with WAT on the host side.
#[plugin_fn]
pub fn div_zero() -> FnResult<String> {
    let a = black_box(1i32);
    let b = black_box(0i32);
    match a.checked_div(b) {
        Some(q) => Ok(q.to_string()),
        None => Err(Error::msg("integer divide by zero").into()),
    }
}

#[export_name = "unreachable"]
pub extern "C" fn trap_unreachable() -> i32 {
    core::arch::wasm32::unreachable()
}

/// Looks up an Extism memory block at offset 0xFFFF_FF00, far past any block, through
/// the PDK (the kernel's `length`), and fails the call with an "out of bounds" error
/// when there is none, as there never is. Safe Rust cannot make a real out-of-bounds
/// load without undefined behaviour; that trap is tested with WAT on the host side.
#[plugin_fn]
pub fn oob() -> FnResult<String> {
    let wild = black_box(0xFFFF_FF00u64);
    match Memory::find(wild) {
        Some(block) => Ok(block.len().to_string()),
        None => Err(Error::msg(format!(
            "out of bounds: no Extism memory block at offset {wild:#x}"
        ))
        .into()),
    }
}

/// Deterministic busy work: `iters` rounds of an LCG step followed by a xor-shift.
pub fn compute_value(iters: u64) -> u64 {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..iters {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        x ^= x >> 33;
    }
    x
}

#[plugin_fn]
pub fn compute(input: String) -> FnResult<String> {
    let iters = parse_u64(&input)?;
    Ok(compute_value(iters).to_string())
}

#[plugin_fn]
pub fn call_host_panic(input: String) -> FnResult<String> {
    Ok(unsafe { panic_now(input)? })
}
