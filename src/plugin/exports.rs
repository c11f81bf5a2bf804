//! A plug-in's exports outside the Extism call API: any exported function called with
//! wasm values, an exported memory read.

use crate::{
    error::{bail_kind, fail},
    plugin::instance::Plugin,
    plugin::run::run,
    plugin::store::release_memory_after_run,
    Error,
};
use alloc::vec::Vec;

impl Plugin {
    /// The bytes of a memory the main module exports as `name`, or `None` when it
    /// exports none by that name or is not instantiated yet (see
    /// [`Plugin::instantiate`]). Hosts read what an instrumented plug-in recorded
    /// through it (see [`crate::fuzzing`]); the plug-in's state is not reset.
    pub fn exported_memory(&mut self, name: &str) -> Option<&mut [u8]> {
        let memory = self.instance?.get_memory(&self.store, name)?;
        Some(memory.data_mut(&mut self.store))
    }

    /// Calls any export `name` with wasm values, under the plug-in's limits (timeout,
    /// cancel, fuel, memory), and returns its results.
    ///
    /// Unlike [`Plugin::call`] it does not start an Extism call: the Extism memory is
    /// not reset, there is no input and no output, and an error the plug-in sets is
    /// not turned into a failure. Hosts use it to drive modules that exchange memory
    /// handles directly, e.g. a module standing in for host functions (allocate blocks
    /// with [`Plugin::current_plugin`], pass their handles, free them after).
    ///
    /// # Errors
    ///
    /// As [`Plugin::instantiate`] when the plug-in is not instantiated yet;
    /// `NotFound` without an exported function `name`; `Invalid` when `params` do
    /// not match its parameters; else the kinds of [`Plugin::call`] but `Plugin`.
    pub fn call_export(
        &mut self,
        name: &str,
        params: &[crate::Val],
    ) -> Result<Vec<crate::Val>, Error> {
        let limits = self.start_limits();
        let instance = self.instance_under(&limits)?;
        let func = instance
            .get_func(&self.store, name)
            .ok_or_else(|| fail!(NotFound, "Function not found: {name}"))?;
        let ty = func.ty(&self.store);
        if ty.params().len() != params.len() {
            bail_kind!(
                Invalid,
                "`{name}` takes {} parameters ({:?}), {} given",
                ty.params().len(),
                ty.params(),
                params.len()
            );
        }
        let params = params
            .iter()
            .zip(ty.params())
            .map(|(value, ty)| value.to_wasmi(*ty))
            .collect::<Result<Vec<_>, _>>()?;
        let mut results: Vec<wasmi::Val> = ty
            .results()
            .iter()
            .map(|t| wasmi::Val::default_for_ty(*t))
            .collect();
        let fueled = self.store.get_fuel().is_ok();
        self.store.data_mut().budget.oom = false;
        let outcome = run(
            &mut self.store,
            func,
            &params,
            &mut results,
            &limits,
            fueled,
        );
        release_memory_after_run(&mut self.store);
        match outcome {
            Ok(consumed) => {
                self.fuel_consumed = fueled.then_some(consumed);
                Ok(results.iter().map(crate::Val::from_wasmi).collect())
            }
            Err(failure) => {
                self.fuel_consumed = fueled.then_some(failure.fuel_used);
                self.needs_rebuild |= failure.poisoned;
                Err(failure.error)
            }
        }
    }
}
