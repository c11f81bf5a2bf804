//! Loading a plug-in's modules is bounded (issue 22, items 2, 3 and 7): the bulk-I/O
//! pass is linear in the module's size and holds no body's operators, validation and
//! rewriting stop at the creation's deadline, inline module bytes are capped like
//! files and URLs, and a host file named as a module is neither parsed as wasm text
//! nor quoted in an error.
//!
//! The tests that could hang or eat memory on the code before the fix run in a child
//! process with its address space capped (`ulimit -v`) under a watchdog; a counting
//! global allocator measures the host memory creation holds.

use interplug::{ErrorExt, ErrorKind, Manifest, Plugin, PluginBuilder, Wasm};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};
use wasm_encoder::{
    CodeSection, ExportKind, ExportSection, Function, FunctionSection, ImportSection,
    Instruction as I, MemArg, MemorySection, MemoryType, Module, TypeSection, ValType,
};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{peak, reset_peak};

const MIB: isize = 1 << 20;

/// The environment variable that makes this binary run one test as a child.
const CHILD: &str = "INTERPLUG_LOAD_LIMITS_CHILD";

/// One measurement at a time.
static LOCK: Mutex<()> = Mutex::new(());

fn lock() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// True in the child process that runs the test body.
fn is_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

/// Runs the test `name` of this binary again in a child process whose address space
/// is capped at 4 GiB, and fails unless it passed there within `bound` (the child is
/// killed after it: on the code before the fix it may take minutes).
fn in_child(name: &str, bound: Duration) {
    let exe = std::env::current_exe().expect("the test binary");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -v 4194304 && exec "$0" "$@""#)
        .arg(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the test binary runs");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if started.elapsed() > bound {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    match status {
        Some(status) if status.success() => print!("{stdout}"),
        Some(status) => {
            panic!("the child process failed ({status}):\nstdout:\n{stdout}\nstderr:\n{stderr}")
        }
        None => panic!("the child process ran longer than {bound:?}:\nstdout:\n{stdout}"),
    }
}

/// The parts every module below shares: imports `load_u64` (function 0), defines
/// function 1 of type `() -> i32` with `body`, one page of memory exported as
/// `memory`, and exports function 1 as `run`.
fn module(locals: &[(u32, ValType)], body: impl FnOnce(&mut Function)) -> Vec<u8> {
    let mut types = TypeSection::new();
    types.ty().function([ValType::I64], [ValType::I64]);
    types.ty().function([], [ValType::I32]);
    let mut imports = ImportSection::new();
    imports.import(
        "extism:host/env",
        "load_u64",
        wasm_encoder::EntityType::Function(0),
    );
    let mut functions = FunctionSection::new();
    functions.function(1);
    let mut memories = MemorySection::new();
    memories.memory(MemoryType {
        minimum: 1,
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    let mut exports = ExportSection::new();
    exports.export("memory", ExportKind::Memory, 0);
    exports.export("run", ExportKind::Func, 1);
    let mut function = Function::new(locals.iter().copied());
    body(&mut function);
    function.instruction(&I::I32Const(0));
    function.instruction(&I::End);
    let mut code = CodeSection::new();
    code.function(&function);
    let mut module = Module::new();
    module
        .section(&types)
        .section(&imports)
        .section(&functions)
        .section(&memories)
        .section(&exports)
        .section(&code);
    module.finish()
}

/// The issue's quadratic module: a loop that stores `load_u64` of the sum of
/// `summed` i64 locals, declared one at a time between i32 locals (so that no two
/// runs of locals merge), added right to left.
fn summing_loop(summed: u32) -> Vec<u8> {
    let locals: Vec<(u32, ValType)> = (0..summed * 2)
        .map(|i| {
            (
                1,
                if i % 2 == 0 {
                    ValType::I64
                } else {
                    ValType::I32
                },
            )
        })
        .collect();
    module(&locals, |f| {
        f.instruction(&I::Loop(wasm_encoder::BlockType::Empty));
        f.instruction(&I::I32Const(0));
        for i in 0..summed {
            f.instruction(&I::LocalGet(2 * i));
        }
        for _ in 1..summed {
            f.instruction(&I::I64Add);
        }
        f.instruction(&I::Call(0));
        f.instruction(&I::I64Store(MemArg {
            offset: 0,
            align: 3,
            memory_index: 0,
        }));
        f.instruction(&I::I32Const(0));
        f.instruction(&I::BrIf(0));
        f.instruction(&I::End);
    })
}

/// A module whose one function has about `bytes` bytes of `nop`s, or of loops that
/// call `load_u64` (`loops`).
fn large_body(bytes: usize, loops: bool) -> Vec<u8> {
    module(&[], |f| {
        if loops {
            // loop; i64.const 0; call 0; drop; end: 8 bytes.
            for _ in 0..bytes / 8 {
                f.instruction(&I::Loop(wasm_encoder::BlockType::Empty));
                f.instruction(&I::I64Const(0));
                f.instruction(&I::Call(0));
                f.instruction(&I::Drop);
                f.instruction(&I::End);
            }
        } else {
            f.raw(std::iter::repeat_n(0x01, bytes));
        }
    })
}

/// Issue 22, item 2: the bulk-I/O pass took 12-18 s (release build) to create a
/// 64 KB module whose loop sums 16 000 locals; it is linear now.
#[test]
fn a_loop_summing_thousands_of_locals_is_created_at_once() {
    let wasm = summing_loop(16_000);
    assert!(wasm.len() < 200_000, "{} bytes", wasm.len());
    let worker = std::thread::spawn(move || {
        let started = Instant::now();
        let result = PluginBuilder::new(&wasm)
            .with_bulk_io(true)
            .build()
            .map(|_| ());
        (result, started.elapsed())
    });
    let started = Instant::now();
    while !worker.is_finished() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "creating the plug-in still runs after 20 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (result, took) = worker.join().expect("the creating thread");
    result.expect("the plug-in loads");
    println!("a loop summing 16 000 locals: created in {took:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

/// The host memory creating a plug-in from `wasm` holds at its peak, beyond what was
/// held before.
fn creation_peak(wasm: &[u8], bulk_io: bool) -> isize {
    let _guard = lock();
    let before = reset_peak();
    let plugin = PluginBuilder::new(wasm)
        .with_bulk_io(bulk_io)
        .build()
        .expect("the plug-in loads");
    let held = peak() - before;
    drop(plugin);
    held
}

/// Issue 22, item 3: a 16 MB module of one function of `nop`s (with a kernel import
/// and a memory export) made the host hold 1 058 MiB while it was created (the pass
/// kept every operator of the body, ~48 bytes each); 84 MiB with the pass off. The
/// pass streams bodies now: creation holds a few copies of the module at most, with
/// the pass on as off, for a body of `nop`s and one of loops calling the kernel.
#[test]
fn a_sixteen_megabyte_body_is_created_within_a_few_copies_of_itself() {
    if !is_child() {
        return in_child(
            "a_sixteen_megabyte_body_is_created_within_a_few_copies_of_itself",
            Duration::from_secs(600),
        );
    }
    for loops in [false, true] {
        let wasm = large_body(16 << 20, loops);
        let size = wasm.len() as isize;
        let on = creation_peak(&wasm, true);
        // Another module (the cache would give the first one back).
        let off = creation_peak(&large_body((16 << 20) + 8, loops), false);
        println!(
            "16 MiB body of {}: peak while created {} MiB with the bulk-I/O pass, {} MiB \
             without",
            if loops { "kernel loops" } else { "nops" },
            on / MIB,
            off / MIB
        );
        assert!(on < 8 * size, "pass on: {} MiB", on / MIB);
        assert!(
            on < off + 3 * size,
            "on {} MiB, off {} MiB",
            on / MIB,
            off / MIB
        );
    }
}

/// Validating and rewriting a module stop at the creation's deadline: a module whose
/// validation takes seconds fails with `Timeout` at its `timeout_ms` (before, only
/// start functions and constructors were bounded).
#[test]
fn validating_a_huge_body_stops_at_the_creation_timeout() {
    if !is_child() {
        return in_child(
            "validating_a_huge_body_stops_at_the_creation_timeout",
            Duration::from_secs(300),
        );
    }
    for bulk_io in [false, true] {
        // 64 MiB of loops calling the kernel: seconds to validate and rewrite.
        let wasm = large_body((64 << 20) + usize::from(bulk_io), true);
        let manifest = Manifest::new([Wasm::data(wasm)]).with_timeout(Duration::from_millis(50));
        let started = Instant::now();
        let result = PluginBuilder::new(&manifest).with_bulk_io(bulk_io).build();
        let took = started.elapsed();
        let error = result.map(|_| ()).expect_err("the creation times out");
        assert_eq!(error.kind(), ErrorKind::Timeout, "{error:#}");
        println!("bulk I/O {bulk_io}: creation stopped after {took:?}: {error:#}");
        assert!(took < Duration::from_secs(3), "took {took:?}");
    }
}

/// Inline module bytes are capped like files and URLs
/// (`DEFAULT_MAX_MODULE_BYTES`), before anything is copied or parsed.
#[test]
fn inline_module_bytes_are_capped_like_files() {
    if !is_child() {
        return in_child(
            "inline_module_bytes_are_capped_like_files",
            Duration::from_secs(120),
        );
    }
    let cap = interplug::sources::DEFAULT_MAX_MODULE_BYTES as usize;
    // Zeroed memory is not touched: only the header's page becomes resident.
    let mut bytes = vec![0u8; cap + 1];
    bytes[..8].copy_from_slice(b"\0asm\x01\0\0\0");
    let manifest = Manifest::new([Wasm::data(bytes)]);
    let started = Instant::now();
    let error = Plugin::new(&manifest, [], false)
        .map(|_| ())
        .expect_err("over the cap");
    assert_eq!(error.kind(), ErrorKind::LimitExceeded, "{error:#}");
    assert!(format!("{error:#}").contains("more than the"), "{error:#}");
    let Some(Wasm::Data { data, .. }) = manifest.wasm.into_iter().next() else {
        panic!("inline module");
    };
    let error = Plugin::new(data, [], false)
        .map(|_| ())
        .expect_err("over the cap");
    assert_eq!(error.kind(), ErrorKind::LimitExceeded, "{error:#}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // Five inline modules of 240 MiB: more than the load-time cap together.
    let many = Manifest::new((0..5).map(|i| {
        let name = if i == 4 {
            "main".into()
        } else {
            format!("m{i}")
        };
        Wasm::data(vec![0u8; 240 << 20]).with_name(name)
    }));
    let error = Plugin::new(&many, [], false)
        .map(|_| ())
        .expect_err("over the cap");
    assert_eq!(error.kind(), ErrorKind::LimitExceeded, "{error:#}");
    assert!(
        format!("{error:#}").contains(&interplug::sources::DEFAULT_MAX_LOAD_BYTES.to_string()),
        "{error:#}"
    );
}

/// The error of creating a plug-in from `manifest`.
fn creation_error(manifest: &Manifest) -> (ErrorKind, String) {
    match Plugin::new(manifest, [], false) {
        Ok(_) => panic!("the plug-in should not load"),
        Err(error) => (error.kind(), format!("{error:#}")),
    }
}

/// Issue 22, item 7: any file starting like wasm text (`;;`, `(;`, `(module`) was
/// parsed as text, and the parse error quoted the offending line: a config file with
/// a password, named as a module, showed the password. Files and URLs must be wasm
/// binaries unless their name ends in `.wat`, and the parse error of a `.wat` file
/// gives a position, not its text.
#[test]
fn a_host_file_named_as_a_module_is_neither_parsed_nor_quoted() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let secret = ";; service configuration\npassword = hunter2-secret\n";
    for name in ["service.conf", "service.wat", "service.WAT"] {
        let path = dir.path().join(name);
        std::fs::write(&path, secret).expect("a file");
        let (kind, message) = creation_error(&Manifest::new([Wasm::file(&path)]));
        assert_eq!(kind, ErrorKind::Invalid, "{name}: {message}");
        assert!(!message.contains("hunter2"), "{name}: {message}");
        assert!(!message.contains("password"), "{name}: {message}");
        if name == "service.conf" {
            assert!(message.contains("neither a wasm binary"), "{message}");
        } else {
            assert!(message.contains("line 2"), "{name}: {message}");
        }
    }
    // A `.wat` file that is wasm text loads; inline text still does.
    let wat = r#"(module (func (export "run") (result i32) i32.const 0))"#;
    let path = dir.path().join("fine.wat");
    std::fs::write(&path, wat).expect("a file");
    Plugin::new(Manifest::new([Wasm::file(&path)]), [], false).expect("a .wat file loads");
    Plugin::new(Manifest::new([Wasm::data(wat)]), [], false).expect("inline text loads");
    // Inline text's own parse error may quote it (it is the host's, not a file).
    let (kind, message) = creation_error(&Manifest::new([Wasm::data("(module (func $x")]));
    assert_eq!(kind, ErrorKind::Invalid, "{message}");
}
