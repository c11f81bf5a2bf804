//! Tests of the rewriting layer and the fuzzing pass on the committed fixtures and
//! on WAT modules that use every index space a pass can shift.

use super::coverage::{FuzzPass, MEMORY_EXPORT};
use super::{rewrite, Additions, FunctionRewriter, Identity, ModuleInfo, Pass};
use anyhow::Error;
use std::collections::BTreeMap;
use std::path::PathBuf;
use wasm_encoder::Instruction;
use wasmparser::{Operator, Parser, Payload};

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("spec-tests/fixtures");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("fixtures directory") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "wasm") {
            let bytes = std::fs::read(&path).expect("fixture");
            out.push((path.display().to_string(), bytes));
        }
    }
    assert!(out.len() > 10, "fixtures missing in {}", dir.display());
    out
}

fn validate(wasm: &[u8]) -> Result<(), String> {
    let features = wasmparser::WasmFeatures::default() | wasmparser::WasmFeatures::MULTI_MEMORY;
    wasmparser::Validator::new_with_features(features)
        .validate_all(wasm)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn function_names(wasm: &[u8]) -> BTreeMap<u32, String> {
    let mut names = BTreeMap::new();
    for payload in Parser::new(0).parse_all(wasm) {
        if let Ok(Payload::CustomSection(reader)) = payload {
            if let wasmparser::KnownCustom::Name(section) = reader.as_known() {
                for name in section.into_iter().flatten() {
                    if let wasmparser::Name::Function(map) = name {
                        for naming in map.into_iter().flatten() {
                            names.insert(naming.index, naming.name.to_string());
                        }
                    }
                }
            }
        }
    }
    names
}

#[test]
fn identity_keeps_every_fixture_valid_and_named() {
    for (name, wasm) in fixtures() {
        let same = rewrite(&wasm, &mut Identity).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        validate(&same).unwrap_or_else(|e| panic!("{name}: identity output invalid: {e}"));
        assert_eq!(
            function_names(&same),
            function_names(&wasm),
            "{name}: names"
        );
        // Decoding and encoding again is a fixed point.
        let again = rewrite(&same, &mut Identity).expect("second identity");
        assert_eq!(again, same, "{name}: identity is not stable");
    }
}

#[test]
fn fuzz_pass_keeps_every_fixture_valid() {
    for (name, wasm) in fixtures() {
        let mut pass = FuzzPass::new();
        let out = rewrite(&wasm, &mut pass).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        validate(&out).unwrap_or_else(|e| panic!("{name}: instrumented output invalid: {e}"));
        assert!(!pass.map.blocks.is_empty(), "{name}: no blocks");
        assert_eq!(function_names(&out).len(), function_names(&wasm).len());
    }
}

/// Adds an imported function and calls it at the start of every body.
struct ImportAndCall {
    import: u32,
}

impl Pass for ImportAndCall {
    fn begin(&mut self, _: &ModuleInfo, add: &mut Additions) -> Result<(), Error> {
        let ty = add.add_type([], []);
        self.import = add.import_function("probe", "hit", ty)?;
        Ok(())
    }

    fn function(
        &mut self,
        _: &ModuleInfo,
        _: &mut Additions,
        body: &mut FunctionRewriter<'_>,
    ) -> Result<(), Error> {
        body.emit(&Instruction::Call(self.import));
        body.keep_rest()
    }
}

const SHIFTED: &str = r#"
(module
  (import "env" "host" (func $host (param i32) (result i32)))
  (import "env" "g" (global $imported i32))
  (type $t (func (result i32)))
  (table 2 funcref)
  (memory 1)
  (global $mine (mut i32) (i32.const 5))
  (global $fref funcref (ref.func $two))
  (elem (i32.const 0) $one $two)
  (func $one (result i32) (call $two))
  (func $two (result i32) (call_indirect (type $t) (i32.const 0)) drop (global.get $mine))
  (func $start (drop (ref.func $one)) (drop (call $host (i32.const 1))))
  (start $start)
  (export "one" (func $one))
  (export "two" (func $two))
)"#;

#[test]
fn an_added_import_shifts_every_function_reference() {
    let wasm = wat::parse_str(SHIFTED).expect("wat");
    let mut pass = ImportAndCall { import: 0 };
    let out = rewrite(&wasm, &mut pass).expect("rewrite");
    validate(&out).expect("valid");
    assert_eq!(pass.import, 1, "added after the module's own import");
    let names = function_names(&out);
    assert_eq!(names.get(&0).map(String::as_str), Some("host"));
    assert_eq!(names.get(&2).map(String::as_str), Some("one"));
    assert_eq!(names.get(&3).map(String::as_str), Some("two"));
    assert_eq!(names.get(&4).map(String::as_str), Some("start"));
    let mut exports = BTreeMap::new();
    let mut start = None;
    let mut elements = Vec::new();
    let mut calls = Vec::new();
    for payload in Parser::new(0).parse_all(&out) {
        match payload.expect("payload") {
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.expect("export");
                    exports.insert(export.name.to_string(), export.index);
                }
            }
            Payload::StartSection { func, .. } => start = Some(func),
            Payload::ElementSection(reader) => {
                for element in reader {
                    if let wasmparser::ElementItems::Functions(items) = element.expect("elem").items
                    {
                        elements.extend(items.into_iter().map(|i| i.expect("item")));
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                for op in body.get_operators_reader().expect("ops") {
                    match op.expect("op") {
                        Operator::Call { function_index } => calls.push(function_index),
                        Operator::RefFunc { function_index } => calls.push(1000 + function_index),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    assert_eq!(exports.get("one"), Some(&2));
    assert_eq!(exports.get("two"), Some(&3));
    assert_eq!(start, Some(4));
    assert_eq!(elements, vec![2, 3]);
    // $one: probe, call $two; $two: probe; $start: probe, ref.func $one, call $host.
    assert_eq!(calls, vec![1, 3, 1, 1, 1002, 0]);
}

#[test]
fn imports_after_other_additions_are_refused() {
    struct Late;
    impl Pass for Late {
        fn begin(&mut self, _: &ModuleInfo, add: &mut Additions) -> Result<(), Error> {
            add.add_memory(wasm_encoder::MemoryType {
                minimum: 1,
                maximum: None,
                memory64: false,
                shared: false,
                page_size_log2: None,
            });
            let ty = add.add_type([], []);
            add.import_function("x", "y", ty)?;
            Ok(())
        }
    }
    let wasm = wat::parse_str("(module)").expect("wat");
    let error = rewrite(&wasm, &mut Late).expect_err("late import");
    assert_eq!(crate::ErrorExt::kind(&error), crate::ErrorKind::Invalid);
}

#[test]
fn modules_without_sections_get_the_ones_a_pass_needs() {
    let wasm = wat::parse_str("(module)").expect("wat");
    let mut pass = FuzzPass::new();
    let out = rewrite(&wasm, &mut pass).expect("rewrite");
    validate(&out).expect("valid");
    let exported = Parser::new(0).parse_all(&out).any(|p| {
        matches!(p, Ok(Payload::ExportSection(r)) if r.clone().into_iter().flatten().any(|e| e.name == MEMORY_EXPORT))
    });
    assert!(exported);
}

#[test]
fn components_and_garbage_are_refused_with_a_kind() {
    let error = rewrite(b"\0asm\x0d\0\x01\0", &mut Identity).expect_err("component");
    assert_eq!(crate::ErrorExt::kind(&error), crate::ErrorKind::Invalid);
    let error = rewrite(b"not wasm", &mut Identity).expect_err("garbage");
    assert_eq!(crate::ErrorExt::kind(&error), crate::ErrorKind::Invalid);
}

/// Imports a memory and a global: the module's own memory and global move up.
struct ImportMemoryAndGlobal;

impl Pass for ImportMemoryAndGlobal {
    fn begin(&mut self, _: &ModuleInfo, add: &mut Additions) -> Result<(), Error> {
        let memory = add.import_memory(
            "host",
            "data",
            wasm_encoder::MemoryType {
                minimum: 1,
                maximum: None,
                memory64: false,
                shared: false,
                page_size_log2: None,
            },
        )?;
        assert_eq!(memory, 0);
        let global = add.import_global(
            "host",
            "base",
            wasm_encoder::GlobalType {
                val_type: wasm_encoder::ValType::I32,
                mutable: false,
                shared: false,
            },
        )?;
        assert_eq!(global, 0);
        Ok(())
    }
}

#[test]
fn added_memory_and_global_imports_shift_the_modules_own() {
    let wasm = wat::parse_str(
        r#"(module
          (memory $m 1)
          (global $g (mut i32) (i32.const 4))
          (data (i32.const 8) "hi")
          (func (export "f") (result i32)
            (i32.store (global.get $g) (i32.const 1))
            (memory.size)
            (i32.load (global.get $g))
            i32.add)
          (export "memory" (memory $m))
          (export "g" (global $g)))"#,
    )
    .expect("wat");
    let out = rewrite(&wasm, &mut ImportMemoryAndGlobal).expect("rewrite");
    validate(&out).expect("valid");
    let mut memories = Vec::new();
    let mut globals = Vec::new();
    let mut exports = BTreeMap::new();
    for payload in Parser::new(0).parse_all(&out) {
        match payload.expect("payload") {
            Payload::ExportSection(reader) => {
                for export in reader.into_iter().flatten() {
                    exports.insert(export.name.to_string(), export.index);
                }
            }
            Payload::DataSection(reader) => {
                for data in reader.into_iter().flatten() {
                    if let wasmparser::DataKind::Active { memory_index, .. } = data.kind {
                        memories.push(memory_index);
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                for op in body
                    .get_operators_reader()
                    .expect("ops")
                    .into_iter()
                    .flatten()
                {
                    match op {
                        Operator::I32Load { memarg } | Operator::I32Store { memarg } => {
                            memories.push(memarg.memory)
                        }
                        Operator::MemorySize { mem } => memories.push(mem),
                        Operator::GlobalGet { global_index } => globals.push(global_index),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    assert_eq!(memories, vec![1, 1, 1, 1], "data, store, size, load");
    assert_eq!(globals, vec![1, 1]);
    assert_eq!(exports.get("memory"), Some(&1));
    assert_eq!(exports.get("g"), Some(&1));
}

/// `wasm` with a `name` section naming function `index` `name`.
fn with_function_name(wasm: &[u8], index: u32, name: &str) -> Vec<u8> {
    let mut names = wasm_encoder::NameMap::new();
    names.append(index, name);
    let mut section = wasm_encoder::NameSection::new();
    section.functions(&names);
    let mut out = wasm.to_vec();
    out.push(0); // a custom section
    wasm_encoder::Encode::encode(&section, &mut out);
    out
}

/// Issue 22, item 6: a `name` section naming function `0xFFFFFFFF`, or a body
/// calling it, made `index + added` overflow (a panic in debug and test builds, a
/// wrapped index in release). Such indices now stay as they are.
#[test]
fn indices_at_the_top_of_the_index_space_do_not_overflow() {
    let base = wat::parse_str(SHIFTED).expect("wat");
    let named = with_function_name(&base, u32::MAX, "nobody");
    let out = rewrite(&named, &mut ImportAndCall { import: 0 }).expect("rewrite");
    validate(&out).expect("valid");
    let names = function_names(&out);
    assert_eq!(names.get(&u32::MAX).map(String::as_str), Some("nobody"));
    // A body calling function 0xFFFFFFFF (invalid: validation refuses it later).
    let invalid = wat::parse_str(
        r#"(module (import "env" "f" (func)) (func call 4294967295) (func call 4294967294))"#,
    )
    .expect("wat encodes it");
    let out = rewrite(&invalid, &mut ImportAndCall { import: 0 }).expect("rewrite");
    let mut calls = Vec::new();
    for payload in Parser::new(0).parse_all(&out) {
        if let Ok(Payload::CodeSectionEntry(body)) = payload {
            for op in body
                .get_operators_reader()
                .expect("ops")
                .into_iter()
                .flatten()
            {
                if let Operator::Call { function_index } = op {
                    calls.push(function_index);
                }
            }
        }
    }
    assert_eq!(calls, vec![1, u32::MAX, 1, u32::MAX - 1]);
    // Declared counts near 2^32 are refused, not summed.
    let mut huge = wasm_encoder::Module::new();
    huge.section(&wasm_encoder::RawSection {
        id: 5,
        data: &[0xff, 0xff, 0xff, 0xff, 0x0f],
    });
    let error = rewrite(huge.as_slice(), &mut ImportAndCall { import: 0 }).expect_err("count");
    assert_eq!(crate::ErrorExt::kind(&error), crate::ErrorKind::Invalid);
}

/// Rewriting stops when its interruption check fails (the load path makes it from
/// the creation's deadline and cancel), before each body and inside a long one.
#[test]
fn an_interruption_stops_the_rewrite() {
    use super::{rewrite_with, Limits};
    let wasm = wat::parse_str(SHIFTED).expect("wat");
    let cancelled = || Err(crate::error::fail!(Cancelled, "stop"));
    let limits = Limits::default().with_interrupt(&cancelled);
    let error = rewrite_with(&wasm, &mut ImportAndCall { import: 0 }, &limits).expect_err("stop");
    assert_eq!(crate::ErrorExt::kind(&error), crate::ErrorKind::Cancelled);
    // One body of 100 000 operators: the check runs inside it.
    let body = "nop ".repeat(100_000);
    let long = wat::parse_str(format!("(module (func {body}))")).expect("wat");
    let calls = core::cell::Cell::new(0u32);
    let count = || {
        calls.set(calls.get() + 1);
        Ok(())
    };
    let limits = Limits::default().with_interrupt(&count);
    rewrite_with(&long, &mut ImportAndCall { import: 0 }, &limits).expect("rewrite");
    assert!(calls.get() >= 6, "{} checks", calls.get());
}

/// What a rewrite holds is counted: a cap below the module it writes refuses it.
#[test]
fn the_memory_cap_bounds_a_rewrite() {
    use super::{rewrite_with, Limits};
    let body = "nop ".repeat(100_000);
    let long = wat::parse_str(format!("(module (func {body}))")).expect("wat");
    let error = rewrite_with(
        &long,
        &mut ImportAndCall { import: 0 },
        &Limits::with_max_bytes(50_000),
    )
    .expect_err("over the cap");
    assert_eq!(
        crate::ErrorExt::kind(&error),
        crate::ErrorKind::LimitExceeded
    );
    rewrite_with(
        &long,
        &mut ImportAndCall { import: 0 },
        &Limits::with_max_bytes(400_000),
    )
    .expect("within the cap");
}

/// When no index moves, the layer copies what the pass keeps as it is: the identity
/// rewrite of a fixture is the fixture, but for the code section's count.
#[test]
fn sections_and_kept_bodies_are_copied_as_they_are() {
    for (name, wasm) in fixtures() {
        let same = rewrite(&wasm, &mut Identity).expect("identity");
        let sizes = |bytes: &[u8]| -> Vec<(u8, usize)> {
            Parser::new(0)
                .parse_all(bytes)
                .filter_map(|p| p.ok()?.as_section())
                .map(|(id, range)| (id, range.len()))
                .collect()
        };
        let (before, after) = (sizes(&wasm), sizes(&same));
        assert_eq!(before.len(), after.len(), "{name}");
        for ((id, a), (_, b)) in before.iter().zip(&after) {
            // The code section's count is written in its 5-byte form.
            let allowed = if *id == 10 { 4 } else { 0 };
            assert!(
                *b >= *a && *b <= *a + allowed,
                "{name}: section {id}: {a} -> {b}"
            );
        }
    }
}
