//! Up-front validation of a plug-in's modules, spread over two threads and overlapping
//! compilation and instantiation.
//!
//! wasmi compiles lazily ([`wasmi::CompilationMode::Lazy`]): a function body is only
//! validated and translated when it is first called. Extism reports an invalid module
//! when the plug-in is created, so [`alongside`] still validates every body before
//! creation returns; it does so on a helper thread while the caller compiles and
//! instantiates, and the caller joins in once it is done. Validating the bodies is most
//! of the cost of creating a plug-in from bytes no one has seen before.
//!
//! Validation stops at the creation's deadline or a cancel ([`LoadBounds`]): both
//! threads check them between sections and bodies and every [`CHECK_EVERY`]
//! operators inside a body, so one huge body cannot keep creation past its
//! `timeout_ms`.

use crate::error::fail;
use crate::load::bounds::LoadBounds;
use crate::manifest::input::LoadedModule;
use crate::Error;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use wasmparser::{
    FuncToValidate, FuncValidator, FuncValidatorAllocations, FunctionBody, Parser, ValidPayload,
    Validator, ValidatorResources, WasmFeatures,
};

/// Operators validated between two checks of the deadline and cancel.
const CHECK_EVERY: u32 = 1 << 14;

/// The wasm proposals a plug-in may use: the set wasmi 2 enables by default, plus what
/// its optional cargo features add in this build ([`optional_features`]). [`configure`]
/// sets the same set on the engine so that the two validators agree.
fn features() -> WasmFeatures {
    let mut features = optional_features();
    for feature in [
        WasmFeatures::MUTABLE_GLOBAL,
        WasmFeatures::MULTI_VALUE,
        WasmFeatures::MULTI_MEMORY,
        WasmFeatures::SATURATING_FLOAT_TO_INT,
        WasmFeatures::SIGN_EXTENSION,
        WasmFeatures::BULK_MEMORY,
        WasmFeatures::REFERENCE_TYPES,
        WasmFeatures::GC_TYPES,
        WasmFeatures::TAIL_CALL,
        WasmFeatures::EXTENDED_CONST,
        WasmFeatures::FLOATS,
    ] {
        features.set(feature, true);
    }
    features
}

/// The proposals wasmi supports only when built with its `simd` or `memory64` cargo
/// feature, which another crate of the program may turn on: asked of wasmi itself,
/// once, so that the validator accepts them exactly when wasmi does.
fn optional_features() -> WasmFeatures {
    static OPTIONAL: OnceLock<WasmFeatures> = OnceLock::new();
    *OPTIONAL.get_or_init(|| {
        let engine = wasmi::Engine::default();
        let wasmi_accepts = |wat: &str| {
            wat::parse_str(wat).is_ok_and(|bytes| wasmi::Module::new(&engine, &bytes[..]).is_ok())
        };
        let mut features = WasmFeatures::empty();
        if wasmi_accepts(
            r#"(module (func (result i32) v128.const i64x2 0 0 i32x4.extract_lane 0))"#,
        ) {
            features.set(WasmFeatures::SIMD, true);
            features.set(WasmFeatures::RELAXED_SIMD, true);
        }
        if wasmi_accepts("(module (memory i64 1))") {
            features.set(WasmFeatures::MEMORY64, true);
        }
        features
    })
}

/// Sets the proposals of [`features`] on a wasmi configuration and makes it compile
/// lazily: function bodies are validated by [`alongside`] instead.
pub(crate) fn configure(config: &mut wasmi::Config) {
    config
        .wasm_mutable_global(true)
        .wasm_multi_value(true)
        .wasm_multi_memory(true)
        .wasm_saturating_float_to_int(true)
        .wasm_sign_extension(true)
        .wasm_bulk_memory(true)
        .wasm_reference_types(true)
        .wasm_tail_call(true)
        .wasm_extended_const(true)
        .wasm_custom_page_sizes(false)
        .wasm_wide_arithmetic(false)
        .floats(true)
        .compilation_mode(wasmi::CompilationMode::Lazy);
}

/// Runs `work` (compiling and instantiating `modules`) on this thread while a helper
/// thread validates the modules; then this thread helps validate what is left (and
/// parses the modules itself if the helper has not started on them yet).
///
/// An invalid module gives its validation error, whatever `work` returned: `work` may
/// have failed because of the invalid body. With a single CPU available (or if no
/// thread can be started) everything runs on this thread, validation first.
pub(crate) fn alongside<T>(
    modules: &[LoadedModule],
    bounds: &LoadBounds,
    work: impl FnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    if !several_cpus() {
        validate_here(modules, bounds)?;
        return work();
    }
    let queue = Queue::new(bounds);
    let (result, helper_finished) = std::thread::scope(|scope| {
        let shared = &queue;
        let helper = std::thread::Builder::new()
            .name("interplug-validate".into())
            .spawn_scoped(scope, move || {
                shared.parse_unless_taken(modules);
                shared.drain();
            });
        let result = work();
        let helper_finished = match helper {
            Ok(helper) => {
                // A helper that has not even started yet (the other CPU may be slow
                // to wake) leaves the parsing to this thread.
                shared.parse_unless_taken(modules);
                shared.drain();
                helper.join().is_ok()
            }
            Err(_) => false,
        };
        (result, helper_finished)
    });
    if helper_finished {
        return queue.finish().and(result);
    }
    // No helper, or it stopped half-way: validate everything on this thread.
    validate_here(modules, bounds).and(result)
}

/// Validates every module on this thread alone.
fn validate_here(modules: &[LoadedModule], bounds: &LoadBounds) -> Result<(), Error> {
    let queue = Queue::new(bounds);
    queue.parse(modules);
    queue.drain();
    queue.finish()
}

/// Whether this process may run on more than one CPU (asked once: the answer reads
/// cgroup files). On one CPU a helper thread would only add a thread start.
fn several_cpus() -> bool {
    static SEVERAL: OnceLock<bool> = OnceLock::new();
    *SEVERAL.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() > 1))
}

/// One function body waiting for validation.
struct Job<'a> {
    /// The name of the module it belongs to, for the error message.
    module: &'a str,
    func: FuncToValidate<ValidatorResources>,
    body: FunctionBody<'a>,
}

/// Work shared by the two threads.
struct Queue<'a> {
    /// The deadline and cancel both threads check.
    bounds: &'a LoadBounds,
    /// Set by the thread that parses the modules (the first to get there).
    parse_taken: AtomicBool,
    state: Mutex<State<'a>>,
    /// Signalled when jobs arrive and when parsing ends.
    changed: Condvar,
}

/// What the threads share, behind the queue's lock.
#[derive(Default)]
struct State<'a> {
    /// Bodies not yet taken by a thread.
    jobs: VecDeque<Job<'a>>,
    /// All modules have been parsed (or parsing stopped): no more jobs will come.
    parsed: bool,
    /// The first error found; the remaining jobs are then dropped.
    error: Option<Error>,
}

impl<'a> Queue<'a> {
    /// No work yet, under `bounds`.
    fn new(bounds: &'a LoadBounds) -> Self {
        Queue {
            bounds,
            parse_taken: AtomicBool::new(false),
            state: Mutex::default(),
            changed: Condvar::new(),
        }
    }

    /// The shared state; a poisoned lock still holds consistent data (every update is
    /// a single assignment or push).
    fn lock(&self) -> MutexGuard<'_, State<'a>> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Parses the modules unless the other thread already does.
    fn parse_unless_taken(&self, modules: &'a [LoadedModule]) {
        if !self.parse_taken.swap(true, Ordering::AcqRel) {
            self.parse(modules);
        }
    }

    /// Validates every module section by section, queueing the function bodies.
    fn parse(&self, modules: &'a [LoadedModule]) {
        // Whatever happens, the other thread must learn that no more jobs will come.
        let _end = EndOfParsing(self);
        for LoadedModule { name, bytes } in modules {
            let mut validator = Validator::new_with_features(features());
            for payload in Parser::new(0).parse_all(bytes) {
                if let Err(error) = self.bounds.check() {
                    self.stop(error);
                    return;
                }
                let checked = payload.and_then(|payload| validator.payload(&payload));
                match checked {
                    Ok(ValidPayload::Func(func, body)) => {
                        let mut state = self.lock();
                        if state.error.is_some() {
                            return;
                        }
                        state.jobs.push_back(Job {
                            module: name,
                            func,
                            body,
                        });
                        drop(state);
                        self.changed.notify_one();
                    }
                    Ok(ValidPayload::End(_)) => break,
                    Ok(_) => {}
                    Err(error) => {
                        self.fail(name, error);
                        return;
                    }
                }
            }
        }
    }

    /// Validates queued bodies until parsing has ended and the queue is empty.
    fn drain(&self) {
        let mut allocations = FuncValidatorAllocations::default();
        loop {
            let job = {
                let mut state = self.lock();
                loop {
                    if state.error.is_some() {
                        state.jobs.clear();
                        return;
                    }
                    if let Some(job) = state.jobs.pop_front() {
                        break job;
                    }
                    if state.parsed {
                        return;
                    }
                    state = self
                        .changed
                        .wait(state)
                        .unwrap_or_else(|poison| poison.into_inner());
                }
            };
            let mut validator = job.func.into_validator(allocations);
            match validate_body(&mut validator, &job.body, self.bounds) {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    self.fail(job.module, error);
                    return;
                }
                Err(stopped) => {
                    self.stop(stopped);
                    return;
                }
            }
            allocations = validator.into_allocations();
        }
    }

    /// Records the first validation error.
    fn fail(&self, module: &str, error: wasmparser::BinaryReaderError) {
        self.stop(fail!(Invalid from error, "invalid wasm module `{module}`"));
    }

    /// Records the first error (validation's, or a deadline or cancel) and stops both
    /// threads.
    fn stop(&self, error: Error) {
        let mut state = self.lock();
        if state.error.is_none() {
            state.error = Some(error);
        }
        drop(state);
        self.changed.notify_all();
    }

    /// The validation outcome once both threads are done.
    fn finish(self) -> Result<(), Error> {
        let state = self
            .state
            .into_inner()
            .unwrap_or_else(|poison| poison.into_inner());
        match state.error {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

/// Validates one body operator by operator, checking `bounds` every [`CHECK_EVERY`]
/// operators: the outer error is a deadline or cancel, the inner one validation's.
fn validate_body(
    validator: &mut FuncValidator<ValidatorResources>,
    body: &FunctionBody<'_>,
    bounds: &LoadBounds,
) -> Result<Result<(), wasmparser::BinaryReaderError>, Error> {
    let mut reader = body.get_binary_reader();
    if let Err(error) = validator.read_locals(&mut reader) {
        return Ok(Err(error));
    }
    reader.set_features(features());
    let mut countdown = CHECK_EVERY;
    while !reader.eof() {
        countdown -= 1;
        if countdown == 0 {
            countdown = CHECK_EVERY;
            bounds.check()?;
        }
        let offset = reader.original_position();
        match reader.visit_operator(&mut validator.visitor(offset)) {
            Ok(Ok(())) => {}
            Ok(Err(error)) | Err(error) => return Ok(Err(error)),
        }
    }
    Ok(validator.finish(reader.original_position()))
}

/// Marks parsing as ended when dropped, also when parsing unwinds.
struct EndOfParsing<'q, 'a>(&'q Queue<'a>);

impl Drop for EndOfParsing<'_, '_> {
    fn drop(&mut self) {
        self.0.lock().parsed = true;
        self.0.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(name: &str, wat: &str) -> LoadedModule {
        LoadedModule {
            name: name.into(),
            bytes: wat::parse_str(wat).expect("test module parses"),
        }
    }

    #[test]
    fn validating_on_one_thread_finds_the_invalid_body() {
        let fine = module(
            "main",
            r#"(module (func (export "f") (result i32) i32.const 1))"#,
        );
        let broken = module("lib", r#"(module (func (result i32) i64.const 1))"#);
        let bounds = LoadBounds::unbounded();
        assert!(validate_here(core::slice::from_ref(&fine), &bounds).is_ok());
        let error = validate_here(&[fine, broken], &bounds).expect_err("invalid body");
        let message = format!("{error:#}");
        assert!(message.contains("invalid wasm module `lib`"), "{message}");
        assert!(message.contains("type mismatch"), "{message}");
    }

    #[test]
    fn a_malformed_section_is_reported_by_module() {
        let garbage = LoadedModule {
            name: "main".into(),
            bytes: b"\0asm\x01\0\0\0\x01\xff\xff".to_vec(),
        };
        let error = validate_here(&[garbage], &LoadBounds::unbounded()).expect_err("malformed");
        assert!(format!("{error:#}").contains("invalid wasm module `main`"));
    }

    #[test]
    fn optional_proposals_follow_this_wasmi_build() {
        // This workspace builds wasmi without `simd` and `memory64`.
        let optional = optional_features();
        assert!(!optional.contains(WasmFeatures::SIMD));
        assert!(!optional.contains(WasmFeatures::MEMORY64));
        assert!(features().contains(WasmFeatures::TAIL_CALL));
    }

    #[test]
    fn alongside_prefers_the_validation_error() {
        let broken = module("main", r#"(module (func (result i32) i64.const 1))"#);
        let result: Result<(), Error> = alongside(&[broken], &LoadBounds::unbounded(), || {
            Err(fail!(Invalid, "instantiation failed"))
        });
        let message = format!("{:#}", result.expect_err("invalid"));
        assert!(message.contains("invalid wasm module `main`"), "{message}");
    }
}
