//! The raw baseline: a plug-in's export called directly on wasmi 2 with the smallest
//! native `extism:host/env` that runs the fixtures.
//!
//! The Extism memory is a plain `Vec<u8>`: a bump allocator whose blocks carry their
//! length in the 8 bytes before them, never freed within a call, emptied before each
//! call. No fuel, no limits, no handle validation: the only checks are the slice
//! bounds Rust needs (an out-of-range access reads 0 or writes nothing instead of
//! panicking). This is the interpreter's limit, not a runtime anyone should ship.

use std::collections::HashMap;

use wasmi::{Caller, CompilationMode, Config, Engine, Linker, Module, Store, TypedFunc};

/// The kernel's state.
#[derive(Default)]
pub struct RawState {
    mem: Vec<u8>,
    input: (usize, usize),
    output: (usize, usize),
    error: u64,
    vars: HashMap<Vec<u8>, Vec<u8>>,
}

type C<'a> = Caller<'a, RawState>;

impl RawState {
    /// A block of `n` bytes (with its length header); returns the handle.
    fn alloc(&mut self, n: u64) -> u64 {
        if self.mem.len() < 8 {
            self.mem.resize(8, 0);
        }
        self.mem.extend_from_slice(&n.to_le_bytes());
        let handle = self.mem.len();
        self.mem.resize(handle + n as usize, 0);
        handle as u64
    }

    /// A new block holding `data`.
    fn alloc_bytes(&mut self, data: &[u8]) -> u64 {
        let handle = self.alloc(data.len() as u64);
        self.mem[handle as usize..].copy_from_slice(data);
        handle
    }

    /// The length in a block's header (0 when out of range).
    fn length(&self, handle: u64) -> u64 {
        let h = handle as usize;
        if h < 8 {
            return 0;
        }
        self.load_u64(h - 8)
    }

    /// The bytes of a block (empty when out of range).
    fn block(&self, handle: u64) -> &[u8] {
        let h = handle as usize;
        let n = self.length(handle) as usize;
        self.mem.get(h..h.wrapping_add(n)).unwrap_or(&[])
    }

    fn load_u64(&self, at: usize) -> u64 {
        match self.mem.get(at..at.wrapping_add(8)) {
            Some(bytes) => u64::from_le_bytes(bytes.try_into().unwrap_or([0; 8])),
            None => 0,
        }
    }

    fn store_u64(&mut self, at: usize, value: u64) {
        if let Some(bytes) = self.mem.get_mut(at..at.wrapping_add(8)) {
            bytes.copy_from_slice(&value.to_le_bytes());
        }
    }

    /// Empties the memory and stores the input of a new call.
    fn begin(&mut self, input: &[u8]) {
        self.mem.clear();
        self.output = (0, 0);
        self.error = 0;
        let handle = self.alloc_bytes(input);
        self.input = (handle as usize, input.len());
    }

    /// The output of the last call.
    fn output(&self) -> &[u8] {
        let (at, n) = self.output;
        self.mem.get(at..at.wrapping_add(n)).unwrap_or(&[])
    }
}

/// A host function body `(i64) -> i64`: the answer is `prefix ++ input block`.
fn prefix_fn(prefix: &'static [u8]) -> impl Fn(C<'_>, i64) -> i64 + Send + Sync + 'static {
    move |mut c: C, h: i64| {
        let state = c.data_mut();
        let mut out = prefix.to_vec();
        out.extend_from_slice(state.block(h as u64));
        state.alloc_bytes(&out) as i64
    }
}

/// A linker with the minimal kernel and the fixtures' host functions.
pub fn linker(engine: &Engine) -> Result<Linker<RawState>, wasmi::Error> {
    let mut l = Linker::<RawState>::new(engine);
    let m = "extism:host/env";
    l.func_wrap(m, "alloc", |mut c: C, n: i64| {
        c.data_mut().alloc(n as u64) as i64
    })?;
    l.func_wrap(m, "free", |_c: C, _h: i64| {})?;
    l.func_wrap(m, "length", |c: C, h: i64| c.data().length(h as u64) as i64)?;
    l.func_wrap(m, "length_unsafe", |c: C, h: i64| {
        c.data().length(h as u64) as i64
    })?;
    l.func_wrap(m, "load_u8", |c: C, p: i64| {
        i32::from(c.data().mem.get(p as usize).copied().unwrap_or(0))
    })?;
    l.func_wrap(m, "load_u64", |c: C, p: i64| {
        c.data().load_u64(p as usize) as i64
    })?;
    l.func_wrap(m, "store_u8", |mut c: C, p: i64, v: i32| {
        if let Some(b) = c.data_mut().mem.get_mut(p as usize) {
            *b = v as u8;
        }
    })?;
    l.func_wrap(m, "store_u64", |mut c: C, p: i64, v: i64| {
        c.data_mut().store_u64(p as usize, v as u64)
    })?;
    l.func_wrap(m, "input_length", |c: C| c.data().input.1 as i64)?;
    l.func_wrap(m, "input_offset", |c: C| c.data().input.0 as i64)?;
    l.func_wrap(m, "input_load_u8", |c: C, i: i64| {
        let s = c.data();
        i32::from(s.mem.get(s.input.0 + i as usize).copied().unwrap_or(0))
    })?;
    l.func_wrap(m, "input_load_u64", |c: C, i: i64| {
        let s = c.data();
        s.load_u64(s.input.0 + i as usize) as i64
    })?;
    l.func_wrap(m, "output_set", |mut c: C, h: i64, n: i64| {
        c.data_mut().output = (h as usize, n as usize);
    })?;
    l.func_wrap(m, "error_set", |mut c: C, h: i64| {
        c.data_mut().error = h as u64;
    })?;
    l.func_wrap(m, "config_get", |_c: C, _k: i64| 0i64)?;
    l.func_wrap(m, "var_get", |mut c: C, k: i64| {
        let s = c.data_mut();
        let value = s.vars.get(s.block(k as u64)).cloned();
        match value {
            Some(v) if !v.is_empty() => s.alloc_bytes(&v) as i64,
            _ => 0,
        }
    })?;
    l.func_wrap(m, "var_set", |mut c: C, k: i64, v: i64| {
        let s = c.data_mut();
        let key = s.block(k as u64).to_vec();
        if v == 0 {
            s.vars.remove(&key);
        } else {
            let value = s.block(v as u64).to_vec();
            s.vars.insert(key, value);
        }
    })?;
    l.func_wrap(m, "log_info", |_c: C, _h: i64| {})?;
    l.func_wrap("extism:host/user", "hello_world", prefix_fn(b"Hello, "))?;
    l.func_wrap("extism:host/user", "panic_now", prefix_fn(b""))?;
    l.func_wrap("example:other", "shout", prefix_fn(b""))?;
    Ok(l)
}

/// An engine as the baseline uses it: no fuel, lazy validation and translation.
pub fn engine() -> Engine {
    let mut config = Config::default();
    config.compilation_mode(CompilationMode::Lazy);
    Engine::new(&config)
}

/// A compiled module with the linker to instantiate it.
pub struct RawCompiled {
    engine: Engine,
    linker: Linker<RawState>,
    module: Module,
}

impl RawCompiled {
    /// Compiles `wasm` on `engine`.
    pub fn new(engine: &Engine, wasm: &[u8]) -> Result<Self, String> {
        let module = Module::new(engine, wasm).map_err(|e| e.to_string())?;
        let linker = linker(engine).map_err(|e| e.to_string())?;
        Ok(RawCompiled {
            engine: engine.clone(),
            linker,
            module,
        })
    }

    /// A new instance in its own store.
    pub fn instantiate(&self) -> Result<RawPlugin, String> {
        let mut store = Store::new(&self.engine, RawState::default());
        let instance = self
            .linker
            .instantiate_and_start(&mut store, &self.module)
            .map_err(|e| e.to_string())?;
        Ok(RawPlugin {
            store,
            instance,
            funcs: HashMap::new(),
        })
    }
}

/// An instance.
pub struct RawPlugin {
    store: Store<RawState>,
    instance: wasmi::Instance,
    funcs: HashMap<String, TypedFunc<(), i32>>,
}

impl RawPlugin {
    /// Creates an instance from bytes (compiles, links and instantiates).
    pub fn new(engine: &Engine, wasm: &[u8]) -> Result<Self, String> {
        RawCompiled::new(engine, wasm)?.instantiate()
    }

    /// The export `name` as a typed function, looked up once.
    pub fn func(&mut self, name: &str) -> Result<TypedFunc<(), i32>, String> {
        if let Some(f) = self.funcs.get(name) {
            return Ok(*f);
        }
        let f = self
            .instance
            .get_typed_func::<(), i32>(&self.store, name)
            .map_err(|e| format!("{name}: {e}"))?;
        self.funcs.insert(name.to_string(), f);
        Ok(f)
    }

    /// Calls `func` with `input`; the output is borrowed until the next call.
    pub fn call(&mut self, func: TypedFunc<(), i32>, input: &[u8]) -> Result<&[u8], String> {
        self.store.data_mut().begin(input);
        let rc = func.call(&mut self.store, ()).map_err(|e| e.to_string())?;
        if rc != 0 {
            let message = String::from_utf8_lossy(self.store.data().block(self.store.data().error));
            return Err(format!("rc {rc}: {message}"));
        }
        Ok(self.store.data().output())
    }
}
