//! Random kernel-call programs for comparing a plug-in rewritten by the bulk-I/O pass
//! with the original: straight-line WAT that allocates and frees Extism blocks and
//! runs PDK-shaped copy loops (input, load, store; 8 and 1 bytes; the three loop
//! tests the PDKs compile to) with addresses that are often at or past an edge.
//! Shared by `tests/bulk_io.rs` and the `bulk_io` fuzz target (no dependencies).
#![allow(dead_code)]

use std::fmt::Write;

/// Reads choices from bytes; zeros when they run out.
pub struct Choices<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Choices<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Choices { bytes, at: 0 }
    }

    pub fn byte(&mut self) -> u8 {
        let b = self.bytes.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    pub fn u16(&mut self) -> u16 {
        u16::from(self.byte()) | (u16::from(self.byte()) << 8)
    }

    pub fn exhausted(&self) -> bool {
        self.at >= self.bytes.len()
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u32) -> u32 {
        u32::from(self.u16()) % n.max(1)
    }

    /// A linear memory address, often near the end of the 1-page memory.
    fn linear(&mut self) -> u32 {
        match self.byte() % 4 {
            0 => 65_536 - self.below(300),
            1 => 65_536 + self.below(16),
            _ => self.below(2048),
        }
    }
}

/// Linear memory pages of the generated module.
const PAGES: u32 = 1;
/// Handles kept by a program.
const SLOTS: u32 = 4;

/// A program and the input to call it with.
pub struct Program {
    pub wat: String,
    pub input: Vec<u8>,
}

/// The program `choices` describe.
pub fn program(choices: &mut Choices<'_>) -> Program {
    let input_len = choices.below(300) as usize;
    let input: Vec<u8> = (0..input_len).map(|_| choices.byte()).collect();
    let mut body = String::new();
    // Some blocks to start with.
    for slot in 0..SLOTS {
        let _ = writeln!(
            body,
            "(local.set $h{slot} (call $alloc (i64.const {})))",
            choices.below(300)
        );
    }
    let steps = 1 + choices.below(12);
    for _ in 0..steps {
        if choices.exhausted() {
            break;
        }
        match choices.byte() % 8 {
            0 => {
                let slot = choices.below(SLOTS);
                let _ = writeln!(
                    body,
                    "(local.set $h{slot} (call $alloc (i64.const {})))",
                    choices.below(300)
                );
            }
            1 => {
                let _ = writeln!(body, "(call $free (local.get $h{}))", choices.below(SLOTS));
            }
            2 => {
                let _ = writeln!(
                    body,
                    "(i64.store (i32.const {}) (i64.const {}))",
                    choices.below(PAGES * 65_536 - 8),
                    choices.u16() as u64 * 0x0101_0101
                );
            }
            _ => copy_loop(choices, &mut body),
        }
    }
    // Output: the first 256 bytes of linear memory, through a store loop.
    body.push_str(
        "(local.set $h0 (call $alloc (i64.const 256)))\n\
         (local.set $d (i32.const 0)) (local.set $i (local.get $h0))\n\
         (local.set $e (i64.add (local.get $h0) (i64.const 256)))\n\
         (loop\n\
           (call $store_u64 (local.get $i) (i64.load (local.get $d)))\n\
           (local.set $d (i32.add (local.get $d) (i32.const 8)))\n\
           (br_if 0 (i64.ne (local.get $e) (local.tee $i (i64.add (local.get $i) (i64.const 8))))))\n\
         (call $output_set (local.get $h0) (i64.const 256))\n",
    );
    let wat = format!(
        r#"(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "free" (func $free (param i64)))
  (import "extism:host/env" "load_u8" (func $load_u8 (param i64) (result i32)))
  (import "extism:host/env" "load_u64" (func $load_u64 (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") {PAGES})
  (data (i32.const 16) "interplug bulk-I/O differential program")
  (func (export "run") (result i32)
    (local $h0 i64) (local $h1 i64) (local $h2 i64) (local $h3 i64)
    (local $d i32) (local $i i64) (local $e i64) (local $c i64) (local $b i64)
{body}    (i32.const 0)))"#
    );
    Program { wat, input }
}

/// One copy loop in one of the PDKs' shapes.
fn copy_loop(choices: &mut Choices<'_>, body: &mut String) {
    let chunk: u32 = if choices.byte() % 3 == 0 { 1 } else { 8 };
    let (width, store, load) = if chunk == 8 {
        ("u64", "i64.store", "i64.load")
    } else {
        ("u8", "i32.store8", "i32.load8_u")
    };
    let count = match choices.byte() % 4 {
        0 => choices.below(3),
        1 => choices.below(40),
        _ => choices.below(12),
    };
    let dst = choices.linear();
    let direction = choices.byte() % 3;
    // The Extism side: an input index, or a block handle plus an offset (sometimes a
    // made-up address).
    let base = match direction {
        0 => format!("(i64.const {})", choices.below(320)),
        _ => match choices.byte() % 6 {
            0 => format!("(i64.const {})", choices.below(2048)),
            _ => format!(
                "(i64.add (local.get $h{}) (i64.const {}))",
                choices.below(SLOTS),
                choices.below(320)
            ),
        },
    };
    // Plain `$i` as the address, or `$b + $i`.
    let split = choices.byte() % 2 == 0;
    let (start, ext) = if split {
        let _ = writeln!(body, "(local.set $b {base})");
        (
            "(i64.const 0)".to_string(),
            "(i64.add (local.get $b) (local.get $i))",
        )
    } else {
        (base, "(local.get $i)")
    };
    let copy = match direction {
        0 => format!("({store} (local.get $d) (call $input_load_{width} {ext}))"),
        1 => format!("({store} (local.get $d) (call $load_{width} {ext}))"),
        _ => format!("(call $store_{width} {ext} ({load} (local.get $d)))"),
    };
    let _ = writeln!(
        body,
        "(local.set $d (i32.const {dst})) (local.set $i {start})"
    );
    let bytes = u64::from(count) * u64::from(chunk);
    let advance_d = format!("(local.set $d (i32.add (local.get $d) (i32.const {chunk})))");
    match choices.byte() % 3 {
        // `i += chunk; end != i` (no guard: a count of 0 runs until it fails).
        0 => {
            let _ = writeln!(
                body,
                "(local.set $e (i64.add (local.get $i) (i64.const {bytes})))\n\
                 (loop {copy} {advance_d}\n\
                   (br_if 0 (i64.ne (local.get $e) (local.tee $i (i64.add (local.get $i) (i64.const {chunk}))))))"
            );
        }
        // A count down to 0, guarded as the PDK does.
        1 => {
            let _ = writeln!(
                body,
                "(local.set $c (i64.const {count}))\n\
                 (block (br_if 0 (i64.eqz (local.get $c)))\n\
                 (loop {copy}\n\
                   (local.set $i (i64.add (local.get $i) (i64.const {chunk})))\n\
                   {advance_d}\n\
                   (br_if 0 (i64.ne (local.tee $c (i64.add (local.get $c) (i64.const -1))) (i64.const 0)))))"
            );
        }
        // `i += chunk; i < end`.
        _ => {
            let _ = writeln!(
                body,
                "(local.set $e (i64.add (local.get $i) (i64.const {bytes})))\n\
                 (loop {copy} {advance_d}\n\
                   (br_if 0 (i64.lt_u (local.tee $i (i64.add (local.get $i) (i64.const {chunk}))) (local.get $e))))"
            );
        }
    }
}
