//! [`FunctionRewriter`]: one function body being rewritten. A pass reads the
//! original operators from it and emits their replacement; original operators it
//! keeps have their indices remapped.

use super::info::ModuleInfo;
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
    reader: wasmparser::OperatorsReader<'a>,
    locals: Vec<(u32, wasm_encoder::ValType)>,
    next_local: u32,
    code: Vec<u8>,
    remap: Remap,
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
    /// whose indices move as `remap` says; nothing is emitted yet.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when the function has no
    /// function type or its locals cannot be read.
    pub(super) fn new(
        info: &ModuleInfo,
        index: u32,
        body: &FunctionBody<'a>,
        remap: Remap,
    ) -> Result<Self, Error> {
        let ty = info
            .function_type(index)
            .cloned()
            .ok_or_else(|| fail!(Invalid, "function {index} has no function type"))?;
        let mut locals = Vec::new();
        let mut next_local = ty.params().len() as u32;
        for local in body.get_locals_reader().map_err(invalid)? {
            let (count, val) = local.map_err(invalid)?;
            locals.push((
                count,
                RoundtripReencoder.val_type(val).map_err(reencode_error)?,
            ));
            next_local += count;
        }
        Ok(FunctionRewriter {
            index,
            new_index: remap.function(index),
            ty,
            body_offset: body.range().start,
            reader: body.get_operators_reader().map_err(invalid)?,
            locals,
            next_local,
            code: Vec::new(),
            remap,
        })
    }

    /// The next original operator and its offset in the original module's bytes;
    /// `None` after the body's final `end`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when the body cannot be decoded.
    pub fn next_operator(&mut self) -> Result<Option<(Operator<'a>, usize)>, Error> {
        if self.reader.eof() {
            return Ok(None);
        }
        let (op, offset) = self.reader.read_with_offset().map_err(invalid)?;
        Ok(Some((op, offset)))
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
        instruction.encode(&mut self.code);
        Ok(())
    }

    /// Emits already-encoded instructions as they are (e.g. a run of original
    /// operators that refer to no index the layer shifts).
    pub fn emit_raw(&mut self, bytes: &[u8]) {
        self.code.extend_from_slice(bytes);
    }

    /// Emits a new instruction (indices are final ones).
    pub fn emit(&mut self, instruction: &Instruction<'_>) {
        instruction.encode(&mut self.code);
    }

    /// Adds a local of type `ty`; returns its index.
    pub fn add_local(&mut self, ty: wasm_encoder::ValType) -> u32 {
        self.locals.push((1, ty));
        self.next_local += 1;
        self.next_local - 1
    }

    /// The type of local `index` (parameters first), `None` past the last local.
    pub fn local_type(&self, index: u32) -> Option<wasm_encoder::ValType> {
        let params = self.ty.params();
        if let Some(param) = params.get(index as usize) {
            return RoundtripReencoder.val_type(*param).ok();
        }
        let mut first = params.len() as u32;
        for (count, ty) in &self.locals {
            if index - first < *count {
                return Some(*ty);
            }
            first += count;
        }
        None
    }

    /// Emits every remaining operator unchanged.
    ///
    /// # Errors
    ///
    /// As [`FunctionRewriter::next_operator`].
    pub fn keep_rest(&mut self) -> Result<(), Error> {
        while let Some((op, _)) = self.next_operator()? {
            self.keep(op)?;
        }
        Ok(())
    }

    /// The new body: the locals and everything emitted.
    pub(super) fn finish(self) -> wasm_encoder::Function {
        let mut function = wasm_encoder::Function::new(self.locals);
        function.raw(self.code);
        function
    }
}
