//! [`FunctionRewriter`]: one function body being rewritten. A pass reads the
//! original operators from it and emits their replacement; original operators it
//! keeps have their indices remapped. A body kept whole while no index moves is
//! copied as it is, without decoding it.

use super::info::ModuleInfo;
use super::limits::CHECK_EVERY;
use super::remap::Remap;
use crate::error::fail;
use alloc::vec::Vec;
use anyhow::Error;
use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasm_encoder::{Encode, Instruction};
use wasmparser::{FuncType, FunctionBody, Operator};

/// A body that cannot be read.
fn invalid(error: wasmparser::BinaryReaderError) -> Error {
    fail!(Invalid, "cannot read the wasm module: {error}")
}

/// A local type that cannot be encoded again.
fn reencode_error<E: core::fmt::Display>(error: E) -> Error {
    fail!(Invalid, "cannot re-encode the wasm module: {error}")
}

/// The most locals (parameters included) a function may have: wasmparser's limit.
const MAX_LOCALS: u64 = 50_000;

/// A run of locals of one type.
#[derive(Debug, Clone, Copy)]
struct Locals {
    /// Index of the first (parameters come first).
    first: u32,
    /// How many.
    count: u32,
    ty: wasm_encoder::ValType,
}

/// An interruption check, called every [`CHECK_EVERY`] operators.
type Interrupt<'a> = &'a dyn Fn() -> Result<(), Error>;

/// One function body being rewritten: the pass reads the original operators and
/// emits what replaces them.
pub struct FunctionRewriter<'a> {
    /// The function's index in the original module.
    pub index: u32,
    /// Its index in the rewritten module.
    pub new_index: u32,
    /// Its type.
    pub ty: FuncType,
    /// Offset of the body in the original module's bytes.
    pub body_offset: usize,
    body: FunctionBody<'a>,
    reader: wasmparser::OperatorsReader<'a>,
    /// The declared locals (after the parameters), by index.
    locals: Vec<Locals>,
    next_local: u32,
    /// Whether locals were added (the declaration is written again).
    locals_added: bool,
    code: Vec<u8>,
    remap: Remap,
    /// Whether anything was read or emitted yet.
    touched: bool,
    /// Whether the body is kept whole, as its original bytes.
    raw: bool,
    interrupt: Option<Interrupt<'a>>,
    /// Operators left before the next interruption check.
    countdown: u32,
}

impl core::fmt::Debug for FunctionRewriter<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FunctionRewriter")
            .field("index", &self.index)
            .field("new_index", &self.new_index)
            .finish_non_exhaustive()
    }
}

impl<'a> FunctionRewriter<'a> {
    /// A rewriter for `body`, the module's function `index` (original index space),
    /// whose indices move as `remap` says; nothing is emitted yet. `interrupt` is
    /// called every [`CHECK_EVERY`] operators read.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when the function has no
    /// function type or its locals cannot be read or are too many.
    pub(super) fn new(
        info: &ModuleInfo,
        index: u32,
        body: &FunctionBody<'a>,
        remap: Remap,
        interrupt: Option<Interrupt<'a>>,
    ) -> Result<Self, Error> {
        let ty = info
            .function_type(index)
            .cloned()
            .ok_or_else(|| fail!(Invalid, "function {index} has no function type"))?;
        let mut locals = Vec::new();
        let mut next = ty.params().len() as u64;
        for local in body.get_locals_reader().map_err(invalid)? {
            let (count, val) = local.map_err(invalid)?;
            let first = next;
            next += u64::from(count);
            if next > MAX_LOCALS {
                return Err(fail!(
                    Invalid,
                    "function {index} has more than {MAX_LOCALS} locals"
                ));
            }
            locals.push(Locals {
                first: first as u32,
                count,
                ty: RoundtripReencoder.val_type(val).map_err(reencode_error)?,
            });
        }
        Ok(FunctionRewriter {
            index,
            new_index: remap.function(index),
            ty,
            body_offset: body.range().start,
            body: body.clone(),
            reader: body.get_operators_reader().map_err(invalid)?,
            locals,
            next_local: next as u32,
            locals_added: false,
            code: Vec::new(),
            remap,
            touched: false,
            raw: false,
            interrupt,
            countdown: CHECK_EVERY,
        })
    }

    /// The body's original bytes (its locals, then its code), e.g. for a pass to
    /// look for what it rewrites before decoding anything.
    pub fn original_bytes(&self) -> &'a [u8] {
        self.body.as_bytes()
    }

    /// The next original operator and its offset in the original module's bytes;
    /// `None` after the body's final `end`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when the body cannot be
    /// decoded; whatever the rewrite's interruption check returns (a deadline, a
    /// cancel).
    pub fn next_operator(&mut self) -> Result<Option<(Operator<'a>, usize)>, Error> {
        if self.raw || self.reader.eof() {
            return Ok(None);
        }
        self.touched = true;
        self.countdown -= 1;
        if self.countdown == 0 {
            self.countdown = CHECK_EVERY;
            if let Some(interrupt) = self.interrupt {
                interrupt()?;
            }
        }
        let (op, offset) = self.reader.read_with_offset().map_err(invalid)?;
        Ok(Some((op, offset)))
    }

    /// The offset in the original module's bytes right after the last operator read
    /// (where the next one starts).
    pub fn position(&self) -> usize {
        self.reader.original_position()
    }

    /// Emits an original operator, with its indices remapped to the new module.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when it cannot be encoded.
    pub fn keep(&mut self, op: Operator<'a>) -> Result<(), Error> {
        let instruction = self
            .remap
            .instruction(op)
            .map_err(|e| fail!(Invalid, "cannot re-encode an instruction: {e}"))?;
        self.emit(&instruction);
        Ok(())
    }

    /// Emits already-encoded instructions as they are (e.g. a run of original
    /// operators that refer to no index the layer shifts).
    pub fn emit_raw(&mut self, bytes: &[u8]) {
        self.touched = true;
        self.code.extend_from_slice(bytes);
    }

    /// Emits a new instruction (indices are final ones).
    pub fn emit(&mut self, instruction: &Instruction<'_>) {
        self.touched = true;
        instruction.encode(&mut self.code);
    }

    /// Adds a local of type `ty`; returns its index.
    ///
    /// # Panics
    ///
    /// Never: a body has at most 50 000 locals when it is read, and a pass adds few.
    pub fn add_local(&mut self, ty: wasm_encoder::ValType) -> u32 {
        let index = self.next_local;
        self.locals.push(Locals {
            first: index,
            count: 1,
            ty,
        });
        self.locals_added = true;
        self.next_local = index.saturating_add(1);
        index
    }

    /// The type of local `index` (parameters first), `None` past the last local.
    pub fn local_type(&self, index: u32) -> Option<wasm_encoder::ValType> {
        let params = self.ty.params();
        if let Some(param) = params.get(index as usize) {
            return RoundtripReencoder.val_type(*param).ok();
        }
        // The runs are in index order: the last one starting at or before `index`.
        let after = self.locals.partition_point(|run| run.first <= index);
        let run = self.locals.get(after.checked_sub(1)?)?;
        (index - run.first < run.count).then_some(run.ty)
    }

    /// Emits every remaining operator unchanged. When nothing was read or emitted
    /// yet and no index moves, the body is copied as it is, without decoding it.
    ///
    /// # Errors
    ///
    /// As [`FunctionRewriter::next_operator`].
    pub fn keep_rest(&mut self) -> Result<(), Error> {
        if !self.touched && !self.locals_added && self.remap.is_identity() {
            self.raw = true;
            return Ok(());
        }
        while let Some((op, _)) = self.next_operator()? {
            self.keep(op)?;
        }
        Ok(())
    }

    /// Appends the new body (its size, its locals and everything emitted) to `out`,
    /// a code section being written; returns how many bytes it appended.
    pub(super) fn finish(self, out: &mut Vec<u8>) -> usize {
        let before = out.len();
        if self.raw {
            let bytes = self.body.as_bytes();
            (bytes.len() as u32).encode(out);
            out.extend_from_slice(bytes);
            return out.len() - before;
        }
        // Locals as runs of one type (merging the added ones with their neighbours).
        let mut runs: Vec<(u32, wasm_encoder::ValType)> = Vec::with_capacity(self.locals.len());
        for run in &self.locals {
            match runs.last_mut() {
                Some((count, ty)) if *ty == run.ty => *count += run.count,
                _ => runs.push((run.count, run.ty)),
            }
        }
        let mut head = Vec::new();
        (runs.len() as u32).encode(&mut head);
        for (count, ty) in &runs {
            count.encode(&mut head);
            ty.encode(&mut head);
        }
        ((head.len() + self.code.len()) as u32).encode(out);
        out.extend_from_slice(&head);
        out.extend_from_slice(&self.code);
        out.len() - before
    }
}
