//! The measured cases and how each runtime runs them.
//!
//! A case is prepared once per runtime (plug-in created, output checked), giving a
//! [`Runner`] that performs the measured operation `iters` times.

use std::ffi::CString;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use interplug::{CompiledPlugin, Plugin, PluginBuilder};

use crate::raw::{self, RawCompiled, RawPlugin};
use interplug_spec_tests::capi::{CApiLibrary, CCompiledPlugin, CHostFunction, CPlugin};
use interplug_spec_tests::cases::{host_fns, HostFn};
use interplug_spec_tests::fixtures;

/// Runs the measured operation `iters` times; returns a checksum (kept alive with
/// `black_box` so nothing is optimised away).
pub type Runner = Box<dyn FnMut(u64) -> Result<u64, String>>;

/// The runtimes compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rt {
    /// interplug through its Rust API.
    Interplug,
    /// libextism through the C API.
    Official,
    /// The plug-in's export on wasmi with a minimal kernel.
    Raw,
}

impl Rt {
    /// Every runtime, in table order.
    pub const ALL: [Rt; 3] = [Rt::Interplug, Rt::Official, Rt::Raw];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Rt::Interplug => "interplug",
            Rt::Official => "official",
            Rt::Raw => "raw",
        }
    }
}

/// How the compute case is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComputeMode {
    /// interplug with interruption support (fuel slices); official as is.
    Interruptible,
    /// interplug without interruption support; official as is.
    Plain,
    /// A (large) fuel limit on both.
    Fuel,
}

/// What a case measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Create (and free) a plug-in from module bytes.
    CreateBytes,
    /// The same with bytes no runtime has seen (every cache misses).
    CreateCold,
    /// Instantiate (and free) a plug-in from a compiled one.
    CreateCompiled,
    /// Create a plug-in from module bytes (caches warm), call `count_vowels` once on
    /// a short text, free it: what a host pays before its first answer, whichever
    /// of creation and first call instantiates.
    CreateCall,
    /// The same from a compiled plug-in.
    CompiledCall,
    /// `echo` with this many input bytes; `false`: interplug without interruption.
    Echo(usize, bool),
    /// `count_vowels` on this many bytes of text.
    Vowels(usize, bool),
    /// `host_fns` `call_host`: one host function round trip.
    HostCall,
    /// The same round trip with this many input bytes (the host function answers
    /// `Hello, ` and the bytes).
    HostCallPayload(usize),
    /// `echo` with this many input bytes, interplug with the bulk-I/O rewrite off
    /// (the other runtimes as in [`Kind::Echo`]).
    EchoBulkOff(usize),
    /// `vars` `var_set` `key=value`.
    VarSet,
    /// `vars` `var_get` `key`.
    VarGet,
    /// `limits` `compute` with [`COMPUTE_N`].
    Compute(ComputeMode),
    /// A new plug-in whose memory grows one page per `memory.grow` (writing a byte in
    /// each new page) until it has this many pages.
    Grow(u32),
}

/// A case: its command-line name, its label in the table and its kind.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// Name for `--case` and `--callgrind-case`.
    pub name: &'static str,
    /// Label in the table.
    pub label: &'static str,
    /// What it measures.
    pub kind: Kind,
}

/// The loop count given to `compute`.
pub const COMPUTE_N: u64 = 1_000_000;
/// `compute(COMPUTE_N)`, from the fixture's README.
const COMPUTE_RESULT: &[u8] = b"14278579856471926526";
/// A fuel limit far above what the compute case uses.
pub const FUEL_LIMIT: u64 = 1 << 40;

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

/// Every case, in table order.
#[rustfmt::skip]
pub const CASES: &[Case] = &[
    case("create-bytes", "create from bytes, caches warm", Kind::CreateBytes),
    case("create-cold", "create from new bytes, no cache", Kind::CreateCold),
    case("create-compiled", "instantiate from compiled", Kind::CreateCompiled),
    case("create-call", "create from bytes + first call", Kind::CreateCall),
    case("compiled-call", "from compiled + first call", Kind::CompiledCall),
    case("echo-0", "echo 0 B", Kind::Echo(0, true)),
    case("echo-1k", "echo 1 KiB", Kind::Echo(KIB, true)),
    case("echo-64k", "echo 64 KiB", Kind::Echo(64 * KIB, true)),
    case("echo-1m", "echo 1 MiB", Kind::Echo(MIB, true)),
    case("echo-1m-noint", "echo 1 MiB, interruption off", Kind::Echo(MIB, false)),
    case("echo-1k-bulk-off", "echo 1 KiB, bulk I/O rewrite off", Kind::EchoBulkOff(KIB)),
    case("echo-64k-bulk-off", "echo 64 KiB, bulk I/O rewrite off", Kind::EchoBulkOff(64 * KIB)),
    case("vowels-4k", "count_vowels 4 KiB", Kind::Vowels(4 * KIB, true)),
    case("vowels-64k", "count_vowels 64 KiB", Kind::Vowels(64 * KIB, true)),
    case("vowels-1m", "count_vowels 1 MiB", Kind::Vowels(MIB, true)),
    case("vowels-1m-noint", "count_vowels 1 MiB, interruption off", Kind::Vowels(MIB, false)),
    case("host-call", "host function round trip", Kind::HostCall),
    case("host-call-16", "host function round trip, 16 B", Kind::HostCallPayload(16)),
    case("var-set", "var_set", Kind::VarSet),
    case("var-get", "var_get", Kind::VarGet),
    case("compute-int", "compute 1e6, interruption on", Kind::Compute(ComputeMode::Interruptible)),
    case("compute-noint", "compute 1e6, interruption off", Kind::Compute(ComputeMode::Plain)),
    case("compute-fuel", "compute 1e6, fuel limit", Kind::Compute(ComputeMode::Fuel)),
    case("grow-64m", "grow memory page by page to 64 MiB", Kind::Grow(1024)),
    case("grow-256m", "grow memory page by page to 256 MiB", Kind::Grow(4096)),
];

/// A [`Case`] (short to write).
const fn case(name: &'static str, label: &'static str, kind: Kind) -> Case {
    Case { name, label, kind }
}

impl Case {
    /// The case named `name`.
    pub fn find(name: &str) -> Option<Case> {
        CASES.iter().copied().find(|c| c.name == name)
    }

    /// Bytes of input per operation, for a throughput column.
    pub fn bytes(&self) -> Option<usize> {
        match self.kind {
            Kind::Echo(n, _) | Kind::Vowels(n, _) | Kind::EchoBulkOff(n) if n >= 64 * KIB => {
                Some(n)
            }
            _ => None,
        }
    }
}

/// The fixture modules.
pub struct Fixtures {
    /// `echo.wasm`.
    pub echo: Vec<u8>,
    /// `count_vowels.wasm`.
    pub count_vowels: Vec<u8>,
    /// `host_fns.wasm`.
    pub host_fns: Vec<u8>,
    /// `vars.wasm`.
    pub vars: Vec<u8>,
    /// `limits.wasm`.
    pub limits: Vec<u8>,
}

impl Fixtures {
    /// Reads the fixtures from `dir`.
    pub fn load(dir: &Path) -> Result<Fixtures, String> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
        };
        Ok(Fixtures {
            echo: read("echo.wasm")?,
            count_vowels: read("count_vowels.wasm")?,
            host_fns: read("host_fns.wasm")?,
            vars: read("vars.wasm")?,
            limits: read("limits.wasm")?,
        })
    }
}

/// What the runners share.
pub struct Ctx {
    /// The fixture modules.
    pub fixtures: Fixtures,
    /// libextism, when `INTERPLUG_ORACLE_LIB` names it.
    pub official: Option<Arc<CApiLibrary>>,
    /// The engine of the raw baseline's call cases.
    pub engine: wasmi::Engine,
}

/// `n` bytes of English-like ASCII text.
pub use fixtures::text;

/// The input of a sized case: bytes 0..=255 for echo, text for count_vowels.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 + 7) as u8).collect()
}

/// The `count` count_vowels reports for `input`.
fn vowel_count(input: &[u8]) -> usize {
    input.iter().filter(|b| b"aeiouAEIOU".contains(b)).count()
}

/// Input of the host round trip.
const HOST_INPUT: &[u8] = b"Ada";

/// A plug-in of `wasm` on the official library, without WASI, with the host
/// functions of `host_fns.wasm` when `hosts` is set and a fuel limit if given.
pub fn official_plugin(
    lib: &Arc<CApiLibrary>,
    wasm: &[u8],
    hosts: bool,
    fuel: Option<u64>,
) -> Result<CPlugin, String> {
    let functions: Vec<CHostFunction> = if hosts {
        host_fns().iter().map(HostFn::to_c).collect()
    } else {
        Vec::new()
    };
    match fuel {
        None => lib.plugin_new(wasm, &functions, false),
        Some(fuel) => lib.plugin_new_with_fuel_limit(wasm, &functions, false, fuel),
    }
}

/// `wasm` compiled by the official library, without WASI or host functions.
pub fn official_compiled(lib: &Arc<CApiLibrary>, wasm: &[u8]) -> Result<CCompiledPlugin, String> {
    lib.compiled_plugin_new(wasm, &[], false)
}

/// Checks a first output against the expectation.
fn check(rt: Rt, what: &str, got: &[u8], ok: bool) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        let shown = String::from_utf8_lossy(&got[..got.len().min(80)]).into_owned();
        Err(format!(
            "{}: unexpected output of {what}: {shown:?} ({} bytes)",
            rt.name(),
            got.len()
        ))
    }
}

/// A plug-in call the same way on each runtime.
enum Target {
    Interplug(Box<Plugin>),
    Official(CPlugin),
    Raw(Box<RawPlugin>, wasmi::TypedFunc<(), i32>),
}

impl Target {
    /// Creates the plug-in of `wasm` on `rt`.
    fn new(ctx: &Ctx, rt: Rt, wasm: &[u8], func: &str, setup: Setup) -> Result<Target, String> {
        let hosts = setup.host_functions;
        Ok(match rt {
            Rt::Interplug => {
                let mut builder = PluginBuilder::new(wasm)
                    .with_interruption(setup.interrupt)
                    .with_bulk_io(setup.bulk_io);
                if hosts {
                    builder = builder.with_functions(host_fns().iter().map(HostFn::to_interplug));
                }
                if let Some(fuel) = setup.fuel {
                    builder = builder.with_fuel_limit(fuel);
                }
                Target::Interplug(Box::new(builder.build().map_err(|e| format!("{e:#}"))?))
            }
            Rt::Official => {
                let lib = ctx.official.as_ref().ok_or("no official library")?;
                Target::Official(official_plugin(lib, wasm, hosts, setup.fuel)?)
            }
            Rt::Raw => {
                let mut plugin = RawPlugin::new(&ctx.engine, wasm)?;
                let f = plugin.func(func)?;
                Target::Raw(Box::new(plugin), f)
            }
        })
    }

    /// Calls `name` (`cname`) with `input`.
    fn call(&mut self, name: &str, cname: &CString, input: &[u8]) -> Result<&[u8], String> {
        match self {
            Target::Interplug(p) => p
                .call::<&[u8], &[u8]>(name, input)
                .map_err(|e| format!("{e:#}")),
            Target::Official(p) => p.call_borrowed(cname, input).map_err(|e| e.to_string()),
            Target::Raw(p, f) => p.call(*f, input),
        }
    }
}

/// How a target plug-in is set up.
#[derive(Debug, Clone, Copy)]
struct Setup {
    interrupt: bool,
    /// interplug only: the bulk-I/O rewrite.
    bulk_io: bool,
    fuel: Option<u64>,
    host_functions: bool,
}

impl Setup {
    const PLAIN: Setup = Setup {
        interrupt: true,
        bulk_io: true,
        fuel: None,
        host_functions: false,
    };
}

/// A runner calling `func` with `input` on a new plug-in of `wasm`, after checking
/// the first output with `expect`.
fn call_runner(
    ctx: &Ctx,
    rt: Rt,
    wasm: &[u8],
    func: &str,
    input: Vec<u8>,
    setup: Setup,
    expect: impl Fn(&[u8]) -> bool,
) -> Result<Runner, String> {
    let mut target = Target::new(ctx, rt, wasm, func, setup)?;
    let cname = CString::new(func).map_err(|e| e.to_string())?;
    let first = target.call(func, &cname, &input)?;
    check(rt, func, first, expect(first))?;
    let func = func.to_string();
    Ok(Box::new(move |iters| {
        let mut sum = 0u64;
        for _ in 0..iters {
            let out = target.call(&func, &cname, black_box(&input))?;
            sum = sum.wrapping_add(out.len() as u64);
        }
        Ok(black_box(sum))
    }))
}

/// Prepares `case` on `rt`; `None` when the runtime does not take part in it.
pub fn prepare(ctx: &Ctx, case: &Case, rt: Rt) -> Option<Result<Runner, String>> {
    if rt == Rt::Official && ctx.official.is_none() {
        return None;
    }
    Some(prepare_inner(ctx, case, rt))
}

fn prepare_inner(ctx: &Ctx, case: &Case, rt: Rt) -> Result<Runner, String> {
    let fx = &ctx.fixtures;
    match case.kind {
        Kind::CreateBytes | Kind::CreateCold => {
            create_runner(ctx, rt, case.kind == Kind::CreateCold)
        }
        Kind::CreateCompiled => compiled_runner(ctx, rt),
        Kind::CreateCall => first_call_runner(ctx, rt, false),
        Kind::CompiledCall => first_call_runner(ctx, rt, true),
        Kind::Echo(n, interrupt) => {
            let input = pattern(n);
            let expected = input.clone();
            let setup = Setup {
                interrupt,
                ..Setup::PLAIN
            };
            call_runner(ctx, rt, &fx.echo, "echo", input, setup, move |out| {
                out == expected
            })
        }
        Kind::Vowels(n, interrupt) => {
            let input = text(n);
            let prefix = format!("{{\"count\":{},", vowel_count(&input));
            let setup = Setup {
                interrupt,
                ..Setup::PLAIN
            };
            call_runner(
                ctx,
                rt,
                &fx.count_vowels,
                "count_vowels",
                input,
                setup,
                move |out| out.starts_with(prefix.as_bytes()),
            )
        }
        Kind::EchoBulkOff(n) => {
            let input = pattern(n);
            let expected = input.clone();
            let setup = Setup {
                bulk_io: false,
                ..Setup::PLAIN
            };
            call_runner(ctx, rt, &fx.echo, "echo", input, setup, move |out| {
                out == expected
            })
        }
        Kind::HostCallPayload(n) => {
            let setup = Setup {
                host_functions: true,
                ..Setup::PLAIN
            };
            let input = pattern(n);
            let mut expected = b"Hello, ".to_vec();
            expected.extend_from_slice(&input);
            call_runner(
                ctx,
                rt,
                &fx.host_fns,
                "call_host",
                input,
                setup,
                move |out| out == expected,
            )
        }
        Kind::HostCall => {
            let setup = Setup {
                host_functions: true,
                ..Setup::PLAIN
            };
            call_runner(
                ctx,
                rt,
                &fx.host_fns,
                "call_host",
                HOST_INPUT.to_vec(),
                setup,
                |out| out == b"Hello, Ada",
            )
        }
        Kind::VarSet => call_runner(
            ctx,
            rt,
            &fx.vars,
            "var_set",
            b"key=value".to_vec(),
            Setup::PLAIN,
            |out| out == b"ok",
        ),
        Kind::VarGet => {
            let mut target = Target::new(ctx, rt, &fx.vars, "var_set", Setup::PLAIN)?;
            let set = CString::new("var_set").map_err(|e| e.to_string())?;
            target.call("var_set", &set, b"key=value")?;
            let get = CString::new("var_get").map_err(|e| e.to_string())?;
            if let Target::Raw(p, f) = &mut target {
                *f = p.func("var_get")?;
            }
            let first = target.call("var_get", &get, b"key")?;
            check(rt, "var_get", first, first == b"value")?;
            Ok(Box::new(move |iters| {
                let mut sum = 0u64;
                for _ in 0..iters {
                    sum =
                        sum.wrapping_add(
                            target.call("var_get", &get, black_box(b"key"))?.len() as u64
                        );
                }
                Ok(black_box(sum))
            }))
        }
        Kind::Compute(mode) => {
            // limits.wasm imports `panic_now` (never called by `compute`).
            let hosts = Setup {
                host_functions: true,
                ..Setup::PLAIN
            };
            let setup = match mode {
                ComputeMode::Interruptible => hosts,
                ComputeMode::Plain => Setup {
                    interrupt: false,
                    ..hosts
                },
                ComputeMode::Fuel => Setup {
                    fuel: Some(FUEL_LIMIT),
                    ..hosts
                },
            };
            let input = COMPUTE_N.to_string().into_bytes();
            call_runner(ctx, rt, &fx.limits, "compute", input, setup, |out| {
                out == COMPUTE_RESULT
            })
        }
        Kind::Grow(pages) => grow_runner(ctx, rt, pages),
    }
}

/// A plug-in whose `grow` grows its memory (1 page) one page at a time to `pages`
/// pages, writing one byte in each new page; 0 on success.
fn grower(pages: u32) -> Result<Vec<u8>, String> {
    let text = format!(
        r#"(module
  (memory (export "memory") 1)
  (func (export "grow") (result i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (memory.size) (i32.const {pages})))
        (if (i32.lt_s (memory.grow (i32.const 1)) (i32.const 0))
          (then (return (i32.const 1))))
        (i32.store8 (i32.mul (i32.sub (memory.size) (i32.const 1)) (i32.const 65536))
                    (i32.const 1))
        (br $next)))
    (i32.const 0)))"#
    );
    wat::parse_str(text).map_err(|e| e.to_string())
}

/// Makes a plug-in of [`grower`] and grows its memory to `pages` pages, each time.
fn grow_runner(ctx: &Ctx, rt: Rt, pages: u32) -> Result<Runner, String> {
    let wasm = grower(pages)?;
    let cname = CString::new("grow").map_err(|e| e.to_string())?;
    let engine = ctx.engine.clone();
    let official = ctx.official.clone();
    let once = move || -> Result<u64, String> {
        let mut target = match rt {
            Rt::Interplug => Target::Interplug(Box::new(
                Plugin::new(&wasm, [], false).map_err(|e| format!("{e:#}"))?,
            )),
            Rt::Official => {
                let lib = official.as_ref().ok_or("no official library")?;
                Target::Official(official_plugin(lib, &wasm, false, None)?)
            }
            Rt::Raw => {
                let mut plugin = RawPlugin::new(&engine, &wasm)?;
                let f = plugin.func("grow")?;
                Target::Raw(Box::new(plugin), f)
            }
        };
        let out = target.call("grow", &cname, b"")?;
        Ok(out.len() as u64 + 1)
    };
    once()?;
    Ok(Box::new(move |iters| {
        let mut sum = 0u64;
        for _ in 0..iters {
            sum = sum.wrapping_add(once()?);
        }
        Ok(black_box(sum))
    }))
}

/// Creating plug-ins from the bytes of `count_vowels.wasm` (and dropping them).
///
/// `fresh`: every creation gets bytes never seen before (a custom section with a
/// counter is appended), and libextism's compilation cache is off, so no runtime
/// can reuse earlier work: the cost of a first load. Otherwise the same bytes
/// every time, with the runtimes' caches warm (libextism's on-disk compilation
/// cache, interplug's module cache; the raw baseline has none).
fn create_runner(ctx: &Ctx, rt: Rt, fresh: bool) -> Result<Runner, String> {
    let wasm = ctx.fixtures.count_vowels.clone();
    let mut counter = 0u64;
    let mut next = move || {
        if fresh {
            counter += 1;
            unique_module(&wasm, counter)
        } else {
            wasm.clone()
        }
    };
    match rt {
        Rt::Interplug => Ok(Box::new(move |iters| {
            for _ in 0..iters {
                let bytes = next();
                let plugin = Plugin::new(&bytes, [], false).map_err(|e| format!("{e:#}"))?;
                drop(black_box(plugin));
            }
            Ok(iters)
        })),
        Rt::Official => {
            let lib = ctx.official.clone().ok_or("no official library")?;
            // One creation first, so the cache is warm for the warm case.
            drop(official_plugin(&lib, &next(), false, None)?);
            Ok(Box::new(move |iters| {
                let _cache_off = fresh.then(CacheOff::new);
                for _ in 0..iters {
                    let bytes = next();
                    drop(black_box(official_plugin(&lib, &bytes, false, None)?));
                }
                Ok(iters)
            }))
        }
        // A fresh engine each time, as interplug has: a wasmi engine keeps the code
        // of every module compiled on it until it is dropped.
        Rt::Raw => Ok(Box::new(move |iters| {
            for _ in 0..iters {
                let bytes = next();
                drop(black_box(RawPlugin::new(&raw::engine(), &bytes)?));
            }
            Ok(iters)
        })),
    }
}

/// `wasm` with a custom section `bench-compare` holding `n` appended: a module no
/// cache has seen.
pub fn unique_module(wasm: &[u8], n: u64) -> Vec<u8> {
    fixtures::with_custom_section(wasm, b"bench-compare", &n.to_le_bytes())
}

/// Turns libextism's compilation cache off (`EXTISM_CACHE_CONFIG` empty) while alive.
///
/// libextism reads the variable on the thread that creates a plug-in, so it is set
/// and removed on that thread, between creations (the harness is single-threaded).
struct CacheOff;

impl CacheOff {
    fn new() -> Self {
        std::env::set_var("EXTISM_CACHE_CONFIG", "");
        CacheOff
    }
}

impl Drop for CacheOff {
    fn drop(&mut self) {
        std::env::remove_var("EXTISM_CACHE_CONFIG");
    }
}

/// Instantiating plug-ins from a compiled `count_vowels.wasm` (and dropping them).
fn compiled_runner(ctx: &Ctx, rt: Rt) -> Result<Runner, String> {
    let wasm = &ctx.fixtures.count_vowels;
    match rt {
        Rt::Interplug => {
            let compiled =
                CompiledPlugin::new(PluginBuilder::new(wasm)).map_err(|e| format!("{e:#}"))?;
            Ok(Box::new(move |iters| {
                for _ in 0..iters {
                    let plugin =
                        Plugin::new_from_compiled(&compiled).map_err(|e| format!("{e:#}"))?;
                    drop(black_box(plugin));
                }
                Ok(iters)
            }))
        }
        Rt::Official => {
            let lib = ctx.official.as_ref().ok_or("no official library")?;
            let compiled = official_compiled(lib, wasm)?;
            Ok(Box::new(move |iters| {
                for _ in 0..iters {
                    drop(black_box(compiled.instantiate()?));
                }
                Ok(iters)
            }))
        }
        Rt::Raw => {
            let compiled = RawCompiled::new(&ctx.engine, wasm)?;
            Ok(Box::new(move |iters| {
                for _ in 0..iters {
                    drop(black_box(compiled.instantiate()?));
                }
                Ok(iters)
            }))
        }
    }
}

/// The input of the first-call cases.
const FIRST_CALL_INPUT: &[u8] = b"Hello, World!";

/// The output `count_vowels` gives for [`FIRST_CALL_INPUT`] starts with this.
const FIRST_CALL_OUTPUT: &[u8] = b"{\"count\":3,";

/// Creating a plug-in of `count_vowels.wasm` (from its bytes, caches warm, or from a
/// compiled plug-in when `compiled`), calling `count_vowels` once and dropping it.
fn first_call_runner(ctx: &Ctx, rt: Rt, compiled: bool) -> Result<Runner, String> {
    let wasm = ctx.fixtures.count_vowels.clone();
    let name = CString::new("count_vowels").map_err(|e| e.to_string())?;
    let expect =
        |rt: Rt, out: &[u8]| check(rt, "count_vowels", out, out.starts_with(FIRST_CALL_OUTPUT));
    match rt {
        Rt::Interplug => {
            let ready =
                CompiledPlugin::new(PluginBuilder::new(&wasm)).map_err(|e| format!("{e:#}"))?;
            Ok(Box::new(move |iters| {
                for _ in 0..iters {
                    let mut plugin = if compiled {
                        Plugin::new_from_compiled(&ready)
                    } else {
                        Plugin::new(&wasm, [], false)
                    }
                    .map_err(|e| format!("{e:#}"))?;
                    let out = plugin
                        .call::<&[u8], &[u8]>("count_vowels", black_box(FIRST_CALL_INPUT))
                        .map_err(|e| format!("{e:#}"))?;
                    expect(rt, out)?;
                }
                Ok(iters)
            }))
        }
        Rt::Official => {
            let lib = ctx.official.clone().ok_or("no official library")?;
            let ready = official_compiled(&lib, &wasm)?;
            // One creation first, so the cache is warm.
            drop(official_plugin(&lib, &wasm, false, None)?);
            Ok(Box::new(move |iters| {
                for _ in 0..iters {
                    let mut plugin = if compiled {
                        ready.instantiate()?
                    } else {
                        official_plugin(&lib, &wasm, false, None)?
                    };
                    let out = plugin
                        .call_borrowed(&name, black_box(FIRST_CALL_INPUT))
                        .map_err(|e| e.to_string())?;
                    expect(rt, out)?;
                }
                Ok(iters)
            }))
        }
        Rt::Raw => {
            let ready = RawCompiled::new(&ctx.engine, &wasm)?;
            Ok(Box::new(move |iters| {
                for _ in 0..iters {
                    let mut plugin = if compiled {
                        ready.instantiate()?
                    } else {
                        RawPlugin::new(&raw::engine(), &wasm)?
                    };
                    let f = plugin.func("count_vowels")?;
                    let out = plugin.call(f, black_box(FIRST_CALL_INPUT))?;
                    expect(rt, out)?;
                }
                Ok(iters)
            }))
        }
    }
}

/// A fresh baseline engine (lazy compilation, no fuel).
pub fn raw_engine() -> wasmi::Engine {
    raw::engine()
}
