//! How a plug-in's function bodies are validated: with `std`, every body up front on a
//! helper thread while the plug-in is compiled and instantiated ([`alongside`]);
//! without it, by the engine before compilation. The two build-time switches below are
//! the only entry points the load path uses.

#[cfg(feature = "std")]
mod alongside;

use crate::{load::bounds::LoadBounds, manifest::input::LoadedModule, Error};

/// Sets how the engine validates and translates function bodies.
pub(crate) fn configure_compilation(config: &mut wasmi::Config) {
    #[cfg(feature = "std")]
    alongside::configure(config);
    #[cfg(not(feature = "std"))]
    config.compilation_mode(wasmi::CompilationMode::LazyTranslation);
}

/// Runs `compile_and_run` (which compiles `modules`) while their function bodies are
/// validated, validation stopping at the deadline or a cancel of `bounds`; an invalid
/// body fails the whole, whatever `compile_and_run` returned.
pub(crate) fn validate_alongside<T>(
    modules: &[LoadedModule],
    bounds: &LoadBounds,
    compile_and_run: impl FnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    #[cfg(feature = "std")]
    return alongside::alongside(modules, bounds, compile_and_run);
    #[cfg(not(feature = "std"))]
    {
        let _ = (modules, bounds);
        compile_and_run()
    }
}
