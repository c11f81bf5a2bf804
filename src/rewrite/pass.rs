//! A rewriting pass: the [`Pass`] hooks, the pass that changes nothing
//! ([`Identity`]), and [`rewrite`], which runs a pass over a module: read it, let the
//! pass add what its bodies need, rewrite every body, let the pass finish, encode.

use super::additions::Additions;
use super::encode::encode;
use super::function::FunctionRewriter;
use super::info::ModuleInfo;
use super::read::{read, Module};
use alloc::vec::Vec;
use anyhow::Error;

/// A rewriting pass. Every hook has a default that changes nothing.
pub trait Pass {
    /// Called once before any body is rewritten: add imports here (first), then
    /// anything else the bodies will refer to.
    ///
    /// # Errors
    ///
    /// Whatever the pass reports; rewriting stops.
    fn begin(&mut self, module: &ModuleInfo, add: &mut Additions) -> Result<(), Error> {
        let _ = (module, add);
        Ok(())
    }

    /// Rewrites one of the module's own function bodies: read the operators with
    /// [`FunctionRewriter::next_operator`] and emit their replacement. The default
    /// keeps the body.
    ///
    /// # Errors
    ///
    /// Whatever the pass reports; rewriting stops.
    fn function(
        &mut self,
        module: &ModuleInfo,
        add: &mut Additions,
        body: &mut FunctionRewriter<'_>,
    ) -> Result<(), Error> {
        let _ = (module, add);
        body.keep_rest()
    }

    /// Called once after every body was rewritten, before encoding.
    ///
    /// # Errors
    ///
    /// Whatever the pass reports; rewriting stops.
    fn finish(&mut self, module: &ModuleInfo, add: &mut Additions) -> Result<(), Error> {
        let _ = (module, add);
        Ok(())
    }
}

/// The pass that changes nothing (the module is decoded and encoded again).
#[derive(Debug, Clone, Copy, Default)]
pub struct Identity;

impl Pass for Identity {}

/// Rewrites `wasm` (a validated core module) with `pass`; returns the new module.
///
/// # Errors
///
/// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when the module cannot be read (or is a component), and
/// whatever the pass reports.
///
/// ```
/// use interplug::rewrite::{rewrite, Identity};
/// let wasm = wat::parse_str("(module)")?;
/// assert!(wasmparser::validate(&rewrite(&wasm, &mut Identity)?).is_ok());
/// # Ok::<(), interplug::Error>(())
/// ```
pub fn rewrite(wasm: &[u8], pass: &mut dyn Pass) -> Result<Vec<u8>, Error> {
    let module = read(wasm)?;
    let mut add = Additions::new(module.counts);
    pass.begin(&module.info, &mut add)?;
    add.freeze_imports();
    let bodies = rewrite_bodies(&module, &mut add, pass)?;
    pass.finish(&module.info, &mut add)?;
    encode(
        &module.sections,
        &add.added,
        &add.memories,
        add.remap(),
        bodies,
    )
}

/// Lets `pass` rewrite each of the module's own function bodies, in order.
fn rewrite_bodies(
    module: &Module<'_>,
    add: &mut Additions,
    pass: &mut dyn Pass,
) -> Result<Vec<wasm_encoder::Function>, Error> {
    let remap = add.remap();
    let mut bodies = Vec::with_capacity(module.bodies.len());
    for (i, body) in module.bodies.iter().enumerate() {
        let index = module.info.imported_functions + i as u32;
        let mut rewriter = FunctionRewriter::new(&module.info, index, body, remap)?;
        pass.function(&module.info, add, &mut rewriter)?;
        bodies.push(rewriter.finish());
    }
    Ok(bodies)
}
