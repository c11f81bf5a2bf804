//! A rewriting pass: the [`Pass`] hooks, the pass that changes nothing
//! ([`Identity`]), and [`rewrite`], which runs a pass over a module: read it, let the
//! pass add what its bodies need, rewrite every body, let the pass finish, encode.

use super::additions::Additions;
use super::encode::encode;
use super::function::FunctionRewriter;
use super::info::ModuleInfo;
use super::limits::{Limits, Usage};
use super::read::{read, Module};
use super::sections::Code;
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

    /// Whether the pass reads [`ModuleInfo::function_names`] (when not, the layer
    /// leaves the `name` section unread and the map empty). The default is `true`.
    fn wants_function_names(&self) -> bool {
        true
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

/// Rewrites `wasm` (a core module) with `pass`; returns the new module. The same as
/// [`rewrite_with`] without limits.
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
    rewrite_with(wasm, pass, &Limits::default())
}

/// Rewrites `wasm` (a core module) with `pass` under `limits`; returns the new module.
///
/// The layer's work is linear in the module's size: sections, and bodies the pass
/// keeps whole, are copied as they are when no index moves; bodies are rewritten one
/// at a time, streaming their operators. The module need not be valid: a module
/// that cannot be read is refused, and for one that validation would refuse the
/// output is not specified (but the rewrite ends, within its limits).
///
/// # Errors
///
/// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when the module cannot be read (or
/// is a component); [`ErrorKind::LimitExceeded`](crate::ErrorKind::LimitExceeded) past
/// [`Limits::max_bytes`]; whatever [`Limits::interrupt`] and the pass report.
pub fn rewrite_with(
    wasm: &[u8],
    pass: &mut dyn Pass,
    limits: &Limits<'_>,
) -> Result<Vec<u8>, Error> {
    let mut usage = Usage::new(limits);
    let module = read(wasm, pass.wants_function_names(), &mut usage)?;
    let mut add = Additions::new(module.counts);
    pass.begin(&module.info, &mut add)?;
    add.freeze_imports();
    let code = rewrite_bodies(&module, &mut add, pass, limits, &mut usage)?;
    pass.finish(&module.info, &mut add)?;
    let additions = (&add.added, add.memories.as_slice(), add.remap());
    encode(wasm, &module.sections, additions, code, &mut usage)
}

/// Lets `pass` rewrite each of the module's own function bodies, in order; returns
/// the contents of the new code section (the count, then each body), the added
/// functions' bodies not included.
fn rewrite_bodies(
    module: &Module<'_>,
    add: &mut Additions,
    pass: &mut dyn Pass,
    limits: &Limits<'_>,
    usage: &mut Usage,
) -> Result<Code, Error> {
    let remap = add.remap();
    let mut code = Code::new();
    for (i, body) in module.bodies.iter().enumerate() {
        limits.check()?;
        let index = u32::try_from(i)
            .ok()
            .and_then(|i| module.info.imported_functions.checked_add(i))
            .ok_or_else(|| crate::error::fail!(Invalid, "too many function bodies"))?;
        let mut rewriter =
            FunctionRewriter::new(&module.info, index, body, remap, limits.interrupt)?;
        pass.function(&module.info, add, &mut rewriter)?;
        let appended = rewriter.finish(&mut code.bodies);
        usage.charge(appended)?;
        code.count += 1;
    }
    Ok(code)
}
