//! Coverage-guided fuzzing of plug-ins: instrument a plug-in with
//! [`crate::rewrite::coverage::FuzzPass`], run it, and read what each call recorded
//! (block hit counters, the location of a trap, the operands of its integer
//! comparisons), and turn comparisons into input-to-state mutations.
//!
//! [`Harness`] does it all for one plug-in function; `interplug fuzz` and the
//! cargo-fuzz example in `fuzz/` are built on it.
//!
//! ```
//! use interplug::fuzzing::Harness;
//! use interplug::{Manifest, Wasm};
//! let wat = r#"(module
//!   (import "extism:host/env" "input_length" (func $len (result i64)))
//!   (func $run (export "run") (result i32)
//!     (if (i64.gt_u (call $len) (i64.const 3)) (then unreachable))
//!     i32.const 0))"#;
//! let mut harness = Harness::new(&Manifest::new([Wasm::data(wat)]), [], false)?;
//! harness.call("run", b"ab").expect("short input");
//! assert!(harness.trace().hit_blocks() > 0);
//! assert!(harness.call("run", b"abcd").is_err());
//! let trace = harness.trace();
//! assert_eq!((trace.compares[0].left, trace.compares[0].right), (4, 3));
//! assert!(harness.map().describe_location(&trace.location).starts_with("run+"));
//! # Ok::<(), interplug::Error>(())
//! ```

use crate::error::fail;
use crate::load::sources::load_modules;
use crate::rewrite::coverage::{
    site, CoverageMap, FuzzPass, COUNTERS, DEPTH, LAST_BLOCK, MEMORY_EXPORT, SITE_BYTES,
    SITE_HISTORY, STACK, STACK_SLOTS, TOUCHED_COUNT,
};
use crate::{CompiledPlugin, Error, Function, Manifest, Plugin, Wasm};
use alloc::string::String;
use alloc::vec::Vec;

/// A module instrumented for fuzzing, and how to read what it records.
#[derive(Debug, Clone)]
pub struct Instrumented {
    /// The rewritten module.
    pub wasm: Vec<u8>,
    /// Where it records what.
    pub map: CoverageMap,
}

/// Instruments one module (wasm binary).
///
/// # Errors
///
/// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when the module cannot be read
/// or rewritten.
pub fn instrument(wasm: &[u8]) -> Result<Instrumented, Error> {
    let mut pass = FuzzPass::new();
    let wasm = crate::rewrite::rewrite(wasm, &mut pass)?;
    Ok(Instrumented {
        wasm,
        map: pass.map,
    })
}

/// The manifest with its `main` module instrumented (other modules unchanged, every
/// module given inline); the rest of the manifest (limits, config, hosts) is kept.
///
/// # Errors
///
/// As [`crate::load::sources::load_modules`] when a module cannot be loaded, and as
/// [`instrument`].
pub fn instrument_manifest(manifest: &Manifest) -> Result<(Manifest, CoverageMap), Error> {
    let modules = load_modules(manifest)?;
    let mut map = None;
    let mut wasm = Vec::with_capacity(modules.len());
    for module in modules {
        let bytes = if module.name == "main" {
            let instrumented = instrument(&module.bytes)?;
            map = Some(instrumented.map);
            instrumented.wasm
        } else {
            module.bytes.to_vec()
        };
        wasm.push(Wasm::data(bytes).with_name(module.name));
    }
    let map = map.ok_or_else(|| fail!(Invalid, "the manifest has no `main` module"))?;
    let mut out = manifest.clone();
    out.wasm = wasm;
    Ok((out, map))
}

/// One traced comparison as the last call left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// The site's id (index into [`CoverageMap::compares`]).
    pub site: u32,
    /// Left operand of the last execution (zero-extended).
    pub left: u64,
    /// Right operand of the last execution.
    pub right: u64,
    /// Executions in the call.
    pub count: u32,
    /// Executions with equal operands.
    pub equal: u32,
    /// Low bytes of the left operand of the first executions (up to 16).
    pub left_bytes: Vec<u8>,
    /// Low bytes of the right operand of the first executions.
    pub right_bytes: Vec<u8>,
    /// Width in bytes of the compared values (see
    /// [`crate::rewrite::coverage::CompareSite::width`]).
    pub width: u8,
}

impl Comparison {
    /// Equal low bytes of the last execution's operands, counted from the least
    /// significant one (how close the input came to passing an equality check).
    pub fn matching_bytes(&self) -> u32 {
        let differ = self.left ^ self.right;
        (differ.trailing_zeros() / 8).min(u32::from(self.width))
    }
}

/// What one call recorded.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// Hit counter of every block (wrapping at 256).
    pub counters: Vec<u8>,
    /// The blocks whose counter is not zero, in order.
    pub hit: Vec<u32>,
    /// The comparisons that ran.
    pub compares: Vec<Comparison>,
    /// The block that ran last, then the call sites below it, innermost first:
    /// where a trap happened.
    pub location: Vec<u32>,
}

impl Trace {
    /// Number of blocks that ran.
    pub fn hit_blocks(&self) -> usize {
        self.hit.len()
    }

    /// Reads what the last call recorded from the instrumentation `memory` and
    /// clears it for the next call.
    pub fn take(&mut self, map: &CoverageMap, memory: &mut [u8]) {
        let layout = map.layout;
        self.counters.clear();
        let counters = COUNTERS as usize..(COUNTERS + layout.blocks) as usize;
        if let Some(bytes) = memory.get_mut(counters) {
            self.counters.extend_from_slice(bytes);
            bytes.fill(0);
        }
        // Most counters are zero: skip them 64 at a time (a slice comparison, fast
        // in every build profile).
        self.hit.clear();
        const ZERO: [u8; 64] = [0; 64];
        for (chunk_index, chunk) in self.counters.chunks(64).enumerate() {
            if chunk != &ZERO[..chunk.len()] {
                for (i, count) in chunk.iter().enumerate() {
                    if *count != 0 {
                        self.hit.push((chunk_index * 64 + i) as u32);
                    }
                }
            }
        }
        self.location.clear();
        self.location.push(read_u32(memory, LAST_BLOCK));
        let depth = read_u32(memory, DEPTH);
        for k in 0..depth.min(STACK_SLOTS - 1) {
            let slot = depth.wrapping_sub(k) & (STACK_SLOTS - 1);
            self.location.push(read_u32(memory, STACK + slot * 4));
        }
        self.compares.clear();
        if memory.len() < layout.size as usize {
            return;
        }
        let touched = read_u32(memory, TOUCHED_COUNT).min(layout.sites);
        for i in 0..touched {
            let id = read_u32(memory, layout.touched_at + i * 4);
            if id >= layout.sites {
                continue;
            }
            let at = (layout.sites_at + id * SITE_BYTES) as usize;
            // In bounds: `at + SITE_BYTES <= layout.size <= memory.len()`.
            let record = &mut memory[at..at + SITE_BYTES as usize];
            let field = |offset: u32| offset as usize;
            let count = u32::from_le_bytes([
                record[field(site::COUNT)],
                record[field(site::COUNT) + 1],
                record[field(site::COUNT) + 2],
                record[field(site::COUNT) + 3],
            ]);
            let kept = count.min(SITE_HISTORY) as usize;
            let mut left = [0u8; 8];
            left.copy_from_slice(&record[field(site::LEFT)..field(site::LEFT) + 8]);
            let mut right = [0u8; 8];
            right.copy_from_slice(&record[field(site::RIGHT)..field(site::RIGHT) + 8]);
            let mut equal = [0u8; 4];
            equal.copy_from_slice(&record[field(site::EQUAL)..field(site::EQUAL) + 4]);
            let left_from = field(site::LEFT_BYTES);
            let right_from = field(site::RIGHT_BYTES);
            self.compares.push(Comparison {
                site: id,
                left: u64::from_le_bytes(left),
                right: u64::from_le_bytes(right),
                count,
                equal: u32::from_le_bytes(equal),
                left_bytes: record[left_from..left_from + kept].to_vec(),
                right_bytes: record[right_from..right_from + kept].to_vec(),
                width: map.compares.get(id as usize).map_or(4, |s| s.width),
            });
            record.fill(0);
        }
        if let Some(header) = memory.get_mut(..COUNTERS as usize) {
            header.fill(0);
        }
    }
}

fn read_u32(memory: &[u8], at: u32) -> u32 {
    let at = at as usize;
    match memory.get(at..at + 4) {
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
        _ => 0,
    }
}

impl CoverageMap {
    /// `function+0xoffset` for block `id`: the function's name from the name section
    /// (else `func[index]`) and the offset in its body.
    pub fn describe_block(&self, id: u32) -> String {
        let Some(block) = self.blocks.get(id as usize) else {
            return alloc::format!("block {id}");
        };
        let name = self
            .function_names
            .get(&block.function)
            .cloned()
            .unwrap_or_else(|| alloc::format!("func[{}]", block.function));
        let start = self.body_offsets.get(&block.function).copied().unwrap_or(0);
        alloc::format!("{name}+{:#x}", block.offset.saturating_sub(start))
    }

    /// A trap location ([`Trace::location`]) as text: innermost first, ` <- `
    /// between frames.
    pub fn describe_location(&self, location: &[u32]) -> String {
        let parts: Vec<String> = location.iter().map(|b| self.describe_block(*b)).collect();
        parts.join(" <- ")
    }
}

/// Inputs that would pass `comparison` where `input` failed it: each operand the call
/// saw that occurs in the input (little and big endian, at the compared width and
/// narrower, or as decimal text) is replaced by the other operand, also +-1; a
/// byte-by-byte compare loop's bytes are replaced as one string; when an operand is
/// the input's length, the input is resized to the other. At most `limit`
/// candidates are added to `out`.
pub fn input_to_state(input: &[u8], comparison: &Comparison, limit: usize, out: &mut Vec<Vec<u8>>) {
    let start = out.len();
    let full = |out: &Vec<Vec<u8>>| out.len() - start >= limit;
    // A compare loop: the left bytes were read from the input one by one.
    for (seen, wanted) in [
        (&comparison.left_bytes, &comparison.right_bytes),
        (&comparison.right_bytes, &comparison.left_bytes),
    ] {
        if seen.len() >= 2 && seen != wanted {
            replace_all(input, seen, wanted, limit / 4 + 1, out);
        }
    }
    for (seen, wanted) in [
        (comparison.left, comparison.right),
        (comparison.right, comparison.left),
    ] {
        if seen == wanted {
            continue;
        }
        for width in [8u8, 4, 2, 1] {
            if width > comparison.width.max(1) || !fits(seen, width) {
                continue;
            }
            for delta in [0i64, 1, -1] {
                let want = wanted.wrapping_add(delta as u64);
                let mask = if width == 8 {
                    u64::MAX
                } else {
                    (1u64 << (width * 8)) - 1
                };
                let (seen_le, want_le) = (le(seen & mask, width), le(want & mask, width));
                replace_all(input, &seen_le, &want_le, 2, out);
                if width > 1 {
                    let (seen_be, want_be) = (be(seen & mask, width), be(want & mask, width));
                    replace_all(input, &seen_be, &want_be, 2, out);
                }
                if full(out) {
                    out.truncate(start + limit);
                    return;
                }
            }
        }
        // As decimal text.
        let seen_text = decimal(seen, comparison.width);
        if seen_text.len() > 1 {
            let want_text = decimal(wanted, comparison.width);
            replace_all(input, seen_text.as_bytes(), want_text.as_bytes(), 2, out);
        }
    }
    // A check of the input's length: the input resized to the other operand.
    for (seen, wanted) in [
        (comparison.left, comparison.right),
        (comparison.right, comparison.left),
    ] {
        if seen == input.len() as u64 && seen != wanted && wanted <= MAX_RESIZE {
            let mut resized = input.to_vec();
            resized.resize(wanted as usize, input.last().copied().unwrap_or(0));
            out.push(resized);
        }
    }
    out.truncate(start + limit.min(out.len() - start));
}

/// Longest input a length comparison resizes to.
const MAX_RESIZE: u64 = 1 << 16;

/// Whether `value` (zero-extended, maybe a sign-extended negative) fits `width` bytes.
fn fits(value: u64, width: u8) -> bool {
    if width >= 8 {
        return true;
    }
    let bits = u32::from(width) * 8;
    value >> bits == 0
        || (value as i64) >> (bits - 1) == -1
        || (value >> 32 == 0 && ((value as u32 as i32) >> (bits - 1)) == -1)
}

fn le(value: u64, width: u8) -> Vec<u8> {
    value.to_le_bytes()[..width as usize].to_vec()
}

fn be(value: u64, width: u8) -> Vec<u8> {
    value.to_be_bytes()[8 - width as usize..].to_vec()
}

fn decimal(value: u64, width: u8) -> String {
    if width <= 4 {
        alloc::format!("{}", value as u32 as i32)
    } else {
        alloc::format!("{}", value as i64)
    }
}

/// Adds `input` with each of the first `most` occurrences of `seen` replaced by
/// `wanted` (which may be longer or shorter: text).
fn replace_all(input: &[u8], seen: &[u8], wanted: &[u8], most: usize, out: &mut Vec<Vec<u8>>) {
    if seen.is_empty() || seen.len() > input.len() {
        return;
    }
    let mut found = 0;
    for at in 0..=input.len() - seen.len() {
        if input[at..].starts_with(seen) {
            let mut candidate = Vec::with_capacity(input.len() + wanted.len());
            candidate.extend_from_slice(&input[..at]);
            candidate.extend_from_slice(wanted);
            candidate.extend_from_slice(&input[at + seen.len()..]);
            out.push(candidate);
            found += 1;
            if found >= most {
                return;
            }
        }
    }
}

/// Runs one plug-in function on inputs, instrumented, and keeps what each call
/// recorded.
pub struct Harness {
    compiled: CompiledPlugin,
    plugin: Plugin,
    map: CoverageMap,
    trace: Trace,
}

impl core::fmt::Debug for Harness {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Harness")
            .field("blocks", &self.map.layout.blocks)
            .field("compares", &self.map.layout.sites)
            .finish_non_exhaustive()
    }
}

impl Harness {
    /// Instruments the manifest's `main` module and creates the plug-in.
    ///
    /// # Errors
    ///
    /// As [`instrument_manifest`] and [`Plugin::new`].
    pub fn new(
        manifest: &Manifest,
        functions: impl IntoIterator<Item = Function>,
        wasi: bool,
    ) -> Result<Self, Error> {
        let (manifest, map) = instrument_manifest(manifest)?;
        let compiled = CompiledPlugin::new(
            crate::PluginBuilder::new(&manifest)
                .with_functions(functions)
                .with_wasi(wasi),
        )?;
        Harness::from_compiled(compiled, map)
    }

    /// A harness for a plug-in compiled from a manifest [`instrument_manifest`]
    /// returned (so the plug-in's limits and options are the caller's).
    ///
    /// # Errors
    ///
    /// As [`Plugin::new_from_compiled`] and [`Plugin::instantiate`] (the harness
    /// instantiates at once); [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when the
    /// plug-in is not instrumented.
    pub fn from_compiled(compiled: CompiledPlugin, map: CoverageMap) -> Result<Self, Error> {
        let mut plugin = Plugin::new_from_compiled(&compiled)?;
        plugin.instantiate()?;
        if plugin.exported_memory(MEMORY_EXPORT).is_none() {
            return Err(fail!(
                Invalid,
                "the plug-in is not instrumented: build it from instrument_manifest's manifest"
            ));
        }
        Ok(Harness {
            compiled,
            plugin,
            map,
            trace: Trace::default(),
        })
    }

    /// Calls `function` with `input`; what the call recorded is then in
    /// [`Harness::trace`]. After a trap the next call runs on a fresh instance.
    ///
    /// # Errors
    ///
    /// As [`Plugin::call`] (match on [`crate::ErrorExt::kind`]).
    pub fn call(&mut self, function: &str, input: &[u8]) -> Result<Vec<u8>, Error> {
        let result = self
            .plugin
            .call::<&[u8], &[u8]>(function, input)
            .map(<[u8]>::to_vec);
        self.collect();
        result
    }

    /// Calls `function` with `input` on a new instance (nothing left by earlier calls).
    ///
    /// # Errors
    ///
    /// As [`Harness::call`], and when the instance cannot be created.
    pub fn call_fresh(&mut self, function: &str, input: &[u8]) -> Result<Vec<u8>, Error> {
        self.plugin = Plugin::new_from_compiled(&self.compiled)?;
        self.call(function, input)
    }

    fn collect(&mut self) {
        match self.plugin.exported_memory(MEMORY_EXPORT) {
            Some(memory) => self.trace.take(&self.map, memory),
            None => self.trace = Trace::default(),
        }
    }

    /// What the last call recorded.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// Where the instrumentation records what (block and comparison sites, names).
    pub fn map(&self) -> &CoverageMap {
        &self.map
    }

    /// The plug-in (e.g. for [`Plugin::fuel_consumed`]).
    pub fn plugin(&mut self) -> &mut Plugin {
        &mut self.plugin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comparison(left: u64, right: u64, width: u8) -> Comparison {
        Comparison {
            site: 0,
            left,
            right,
            count: 1,
            equal: 0,
            left_bytes: Vec::new(),
            right_bytes: Vec::new(),
            width,
        }
    }

    #[test]
    fn input_to_state_writes_the_other_operand() {
        let mut out = Vec::new();
        // A 32-bit magic compared little endian.
        input_to_state(
            b"xxABCDyy",
            &comparison(0x4443_4241, 0x4d53_4150, 4),
            64,
            &mut out,
        );
        assert!(out.iter().any(|c| c == b"xxPASMyy"));
        // A 16-bit big-endian field.
        out.clear();
        input_to_state(b"\x00\x07rest", &comparison(7, 0x0102, 2), 64, &mut out);
        assert!(out.iter().any(|c| c == b"\x01\x02rest"));
        // Plus one.
        assert!(out.iter().any(|c| c == b"\x01\x03rest"));
        // Decimal text.
        out.clear();
        input_to_state(b"n=17;", &comparison(17, 4242, 4), 64, &mut out);
        assert!(out.iter().any(|c| c == b"n=4242;"));
        // A compare loop: the bytes seen so far, replaced as one string.
        out.clear();
        let mut loop_cmp = comparison(b'q' as u64, b'Y' as u64, 1);
        loop_cmp.left_bytes = b"KEq".to_vec();
        loop_cmp.right_bytes = b"KEY".to_vec();
        input_to_state(b"..KEq...", &loop_cmp, 64, &mut out);
        assert!(out.iter().any(|c| c == b"..KEY..."));
        // The input's length compared with a constant.
        out.clear();
        input_to_state(b"abc", &comparison(3, 6, 4), 64, &mut out);
        assert!(out.iter().any(|c| c == b"abcccc"));
    }

    /// Fuzzers classify failures by kind: an error the plug-in sets and a non-zero
    /// return code are `Plugin` errors (they were kind-less `Host` before), a panic
    /// is not, instrumented or not.
    #[test]
    fn plugin_errors_carry_their_kind() {
        use crate::{ErrorExt, ErrorKind};
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/spec-tests/fixtures/fail.wasm");
        let manifest = Manifest::new([Wasm::file(path)]);
        let mut plugin = Plugin::new(&manifest, [], false).expect("plug-in");
        let error = plugin.call::<&str, &[u8]>("fail", "x").expect_err("fails");
        assert_eq!(error.kind(), ErrorKind::Plugin { code: -1 }, "{error:#}");
        let error = plugin.call::<&str, &[u8]>("nonzero", "").expect_err("rc 3");
        assert_eq!(error.kind(), ErrorKind::Plugin { code: 3 }, "{error:#}");
        assert_eq!(plugin.call::<&str, &str>("ok", "").expect("ok"), "ok");
        let mut harness = Harness::new(&manifest, [], false).expect("instrumented");
        let error = harness.call("nonzero", b"").expect_err("rc 3");
        assert_eq!(error.kind(), ErrorKind::Plugin { code: 3 });
        let planted = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/spec-tests/fixtures/planted.wasm"
        );
        let mut harness =
            Harness::new(&Manifest::new([Wasm::file(planted)]), [], false).expect("planted");
        let error = harness
            .call("byte_magic", b"\xa5")
            .expect_err("planted bug");
        assert!(
            !matches!(error.kind(), ErrorKind::Plugin { .. }),
            "{error:#}"
        );
        assert!(
            harness.trace().location.len() > 1,
            "the trap has a call stack"
        );
        assert_eq!(
            harness.call("byte_magic", b"ok").expect("after a trap"),
            b"no magic"
        );
    }

    #[test]
    fn matching_bytes_counts_from_the_low_end() {
        assert_eq!(comparison(0x1122_3344, 0x9922_3344, 4).matching_bytes(), 3);
        assert_eq!(comparison(5, 5, 4).matching_bytes(), 4);
        assert_eq!(comparison(1, 2, 2).matching_bytes(), 0);
    }
}
