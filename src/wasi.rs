//! WASI preview 1 for plug-ins created with WASI on.

use crate::{current_plugin::CurrentPlugin, Error, Manifest};
use wasmi::Linker;

/// Adds the `wasi_snapshot_preview1` functions to `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<CurrentPlugin>) -> Result<(), Error> {
    wasmi_wasi::add_to_linker(linker, |state: &mut CurrentPlugin| {
        state
            .wasi
            .as_mut()
            .expect("a WASI context exists whenever WASI functions are linked")
    })
    .map_err(|e| anyhow::anyhow!("cannot define the WASI functions: {e}"))
}

/// A WASI context with the manifest's directories and nothing else.
pub(crate) fn context(manifest: &Manifest, output: bool) -> Result<wasmi_wasi::WasiCtx, Error> {
    let mut builder = wasmi_wasi::WasiCtxBuilder::new();
    if output {
        builder.inherit_stdout().inherit_stderr();
    }
    for (host, guest) in manifest.allowed_paths.iter().flatten() {
        let host_path = host.strip_prefix("ro:").unwrap_or(host);
        let dir = wasmi_wasi::Dir::open_ambient_dir(host_path, wasmi_wasi::ambient_authority())
            .map_err(|e| anyhow::anyhow!("cannot open allowed path `{host_path}`: {e}"))?;
        builder
            .preopened_dir(dir, guest)
            .map_err(|e| anyhow::anyhow!("cannot map `{host_path}` to `{guest}`: {e}"))?;
    }
    Ok(builder.build())
}
