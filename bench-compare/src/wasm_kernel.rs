//! Experiment (`--wasm-kernel`): what if the hot kernel functions were wasm instead of
//! host functions?
//!
//! `echo` from `echo.wasm` is linked against a small kernel *module*: its linear memory
//! is the Extism memory and it exports `input_length`, `input_load_u64`,
//! `input_load_u8`, `store_u64` and `store_u8`, so the PDK's 8-byte loops make
//! wasm-to-wasm calls (between two instances) instead of host calls. `alloc`,
//! `output_set` and `error_set` stay host functions (a bump allocator; called once per
//! call). No fuel, no checks beyond wasm's own memory bounds: a lower bound for what a
//! wasm kernel on wasmi could do, compared with the raw baseline's host functions.

use std::hint::black_box;

use wasmi::{Caller, Engine, Global, Linker, Memory, Module, Store, TypedFunc, Val};

/// The kernel: the Extism memory (64 pages) and the hot functions.
const KERNEL: &str = r#"
(module
  (memory (export "memory") 64)
  (global $in_off (export "in_off") (mut i64) (i64.const 0))
  (global $in_len (export "in_len") (mut i64) (i64.const 0))
  (func (export "input_length") (result i64) (global.get $in_len))
  (func (export "input_load_u64") (param $i i64) (result i64)
    (i64.load (i32.wrap_i64 (i64.add (global.get $in_off) (local.get $i)))))
  (func (export "input_load_u8") (param $i i64) (result i32)
    (i32.load8_u (i32.wrap_i64 (i64.add (global.get $in_off) (local.get $i)))))
  (func (export "store_u64") (param $p i64) (param $v i64)
    (i64.store (i32.wrap_i64 (local.get $p)) (local.get $v)))
  (func (export "store_u8") (param $p i64) (param $v i32)
    (i32.store8 (i32.wrap_i64 (local.get $p)) (local.get $v))))
"#;

/// Host state: the allocation top and the output block.
#[derive(Default)]
struct State {
    top: u64,
    output: (usize, usize),
}

/// `echo` linked against the wasm kernel.
pub struct WasmKernelEcho {
    store: Store<State>,
    memory: Memory,
    in_off: Global,
    in_len: Global,
    echo: TypedFunc<(), i32>,
}

impl WasmKernelEcho {
    /// Instantiates the kernel and `echo_wasm` linked to it.
    pub fn new(echo_wasm: &[u8]) -> Result<Self, String> {
        let err = |e: wasmi::Error| e.to_string();
        let engine = Engine::default();
        let kernel_wasm = wat::parse_str(KERNEL).map_err(|e| e.to_string())?;
        let kernel = Module::new(&engine, &kernel_wasm[..]).map_err(err)?;
        let plugin = Module::new(&engine, echo_wasm).map_err(err)?;
        let mut store = Store::new(&engine, State::default());
        let kernel = Linker::new(&engine)
            .instantiate_and_start(&mut store, &kernel)
            .map_err(err)?;
        let m = "extism:host/env";
        let mut linker = Linker::<State>::new(&engine);
        for name in [
            "input_length",
            "input_load_u64",
            "input_load_u8",
            "store_u64",
            "store_u8",
        ] {
            let f = kernel.get_func(&store, name).ok_or("kernel export")?;
            linker.define(m, name, f).map_err(|e| e.to_string())?;
        }
        linker
            .func_wrap(m, "alloc", |mut c: Caller<'_, State>, n: i64| {
                let handle = c.data().top;
                c.data_mut().top = handle + n as u64 + 8;
                handle as i64
            })
            .map_err(|e| e.to_string())?;
        linker
            .func_wrap(
                m,
                "output_set",
                |mut c: Caller<'_, State>, h: i64, n: i64| {
                    c.data_mut().output = (h as usize, n as usize);
                },
            )
            .map_err(|e| e.to_string())?;
        linker
            .func_wrap(m, "error_set", |_c: Caller<'_, State>, _h: i64| {})
            .map_err(|e| e.to_string())?;
        let instance = linker
            .instantiate_and_start(&mut store, &plugin)
            .map_err(err)?;
        let echo = instance
            .get_typed_func::<(), i32>(&store, "echo")
            .map_err(err)?;
        let global = |name: &str| kernel.get_global(&store, name).ok_or("kernel global");
        Ok(WasmKernelEcho {
            memory: kernel.get_memory(&store, "memory").ok_or("kernel memory")?,
            in_off: global("in_off")?,
            in_len: global("in_len")?,
            echo,
            store,
        })
    }

    /// Calls `echo` with `input` (at most about 2 MiB); returns the output.
    pub fn call(&mut self, input: &[u8]) -> Result<&[u8], String> {
        let start = 8usize;
        let data = self.memory.data_mut(&mut self.store);
        data.get_mut(start..start + input.len())
            .ok_or("input too large for the kernel memory")?
            .copy_from_slice(input);
        self.store.data_mut().top = (start + input.len() + 8) as u64;
        let err = |e: wasmi::Error| e.to_string();
        self.in_off
            .set(&mut self.store, Val::I64(start as i64))
            .map_err(|e| e.to_string())?;
        self.in_len
            .set(&mut self.store, Val::I64(input.len() as i64))
            .map_err(|e| e.to_string())?;
        let rc = self.echo.call(&mut self.store, ()).map_err(err)?;
        if rc != 0 {
            return Err(format!("echo returned {rc}"));
        }
        let (at, n) = self.store.data().output;
        self.memory
            .data(&self.store)
            .get(at..at + n)
            .ok_or_else(|| String::from("output out of bounds"))
    }
}

/// A runner for the harness: `echo` of `input` through the wasm kernel.
pub fn runner(echo_wasm: &[u8], input: Vec<u8>) -> Result<crate::cases::Runner, String> {
    let mut plugin = WasmKernelEcho::new(echo_wasm)?;
    if plugin.call(&input)? != input.as_slice() {
        return Err(String::from("wasm kernel: echo output differs from input"));
    }
    Ok(Box::new(move |iters| {
        let mut sum = 0u64;
        for _ in 0..iters {
            sum = sum.wrapping_add(plugin.call(black_box(&input))?.len() as u64);
        }
        Ok(black_box(sum))
    }))
}
