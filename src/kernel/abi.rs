//! The names and shapes of the Extism ABI, and of interplug's own additions to it: the
//! import modules and functions a plug-in may use, the exports interplug looks for,
//! the wasm value types of host functions, and the argument encoding of the private
//! bulk-copy calls. Every other module takes these names from here; this one depends
//! on nothing.
//!
//! The runtime links by these rules and the `interplug` command lists plug-ins by them,
//! so both always agree.
//!
//! ```
//! use interplug::abi::{import_provider, is_plugin_function, ImportProvider};
//! use interplug::ValType;
//!
//! assert!(is_plugin_function(&[], &[ValType::I32]));
//! assert!(!is_plugin_function(&[ValType::I64], &[]));
//! let provider = import_provider("main", "extism:host/env", "output_set", true, &[], false);
//! assert_eq!(provider, ImportProvider::Kernel);
//! ```

/// The module plug-ins import the Extism kernel functions from.
pub const ENV_MODULE: &str = "extism:host/env";

/// Every function of [`ENV_MODULE`] interplug provides.
pub const ENV_FUNCTIONS: &[&str] = &[
    "alloc",
    "free",
    "length",
    "length_unsafe",
    "load_u8",
    "load_u64",
    "store_u8",
    "store_u64",
    "input_length",
    "input_offset",
    "input_load_u8",
    "input_load_u64",
    "input_set",
    "output_set",
    "output_length",
    "output_offset",
    "error_set",
    "error_get",
    "config_get",
    "var_get",
    "var_set",
    "http_request",
    "http_status_code",
    "http_headers",
    "log_trace",
    "log_debug",
    "log_info",
    "log_warn",
    "log_error",
    "get_log_level",
    "memory_bytes",
    "reset",
];

/// The import module of host functions registered without a namespace.
pub const DEFAULT_NAMESPACE: &str = "extism:host/user";

/// The WASI preview 1 import module.
pub const WASI_MODULE: &str = "wasi_snapshot_preview1";

/// The module whose exports are the plug-in's functions; a manifest's other modules
/// may import from it by this name.
pub const MAIN_MODULE: &str = "main";

/// The WASI command entry point: a plug-in that ran it is rebuilt before its next call.
pub const WASI_START: &str = "_start";

/// Constructors a reactor module exports, run once before any call: the first one
/// found of these.
pub const CONSTRUCTORS: [&str; 2] = ["_initialize", "__wasm_call_ctors"];

/// The Haskell runtime's initialiser, run after the constructor when exported.
pub const HASKELL_INIT: &str = "hs_init";

/// The import module of interplug's private bulk-copy functions, which only the
/// bulk-I/O pass adds (a plug-in that imports them itself is refused).
pub const BULK_MODULE: &str = "interplug:bulk";

/// Copies input bytes into linear memory (a loop around `input_load_u64`/`_u8`).
pub const INPUT_TO_LINEAR: &str = "input_to_linear";
/// Copies Extism memory into linear memory (a loop around `load_u64`/`load_u8`).
pub const MEMORY_TO_LINEAR: &str = "memory_to_linear";
/// Copies linear memory into the Extism memory (a loop around `store_u64`/`store_u8`).
pub const LINEAR_TO_MEMORY: &str = "linear_to_memory";

/// Every function of [`BULK_MODULE`].
pub const BULK_FUNCTIONS: &[&str] = &[INPUT_TO_LINEAR, MEMORY_TO_LINEAR, LINEAR_TO_MEMORY];

/// The import module of the linear memory interplug gives a module in place of the
/// one it defines (lazy memory: a mapping whose untouched pages cost nothing); only
/// interplug adds this import (a plug-in that imports it itself is refused).
pub const LAZY_MEMORY_MODULE: &str = "interplug:memory";

/// The name of that memory import.
pub const LAZY_MEMORY_NAME: &str = "memory";

/// The export by which a module the bulk-I/O pass rewrote hands the host a table of
/// functions (`funcref`, one entry per function of [`BULK_FUNCTIONS`], in that order)
/// for the host to fill at instantiation; the rewritten code calls through it. A
/// module may not export this name itself.
pub const BULK_TABLE_EXPORT: &str = "interplug:bulk";

/// The name of the linear memory export the bulk functions copy to and from (every
/// PDK exports its memory 0 by this name).
pub const LINEAR_MEMORY_EXPORT: &str = "memory";

/// The name of the memory the fuzzing pass adds and exports, where instrumented code
/// records coverage.
pub const FUZZ_MEMORY_EXPORT: &str = "__interplug_fuzz";

/// A wasm value type, as host-function signatures use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer (also the type of Extism memory handles, [`PTR`]).
    I64,
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// 128-bit vector (not supported by interplug's engine configuration).
    V128,
    /// Function reference.
    FuncRef,
    /// External reference.
    ExternRef,
}

/// The type of an Extism memory handle in a host-function signature.
pub const PTR: ValType = ValType::I64;

/// True for the type of an Extism plug-in function: no parameters, and either no
/// result or one `i32` (the return code).
pub fn is_plugin_function(params: &[ValType], results: &[ValType]) -> bool {
    params.is_empty() && (results.is_empty() || results == [ValType::I32])
}

/// Who provides an import of a plug-in module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportProvider {
    /// An Extism kernel function interplug provides.
    Kernel,
    /// An `extism:host/env` import interplug does not know (or not a function): the
    /// plug-in cannot load.
    UnknownKernel,
    /// WASI preview 1: provided when the plug-in is created with WASI on.
    Wasi {
        /// Whether WASI is on.
        enabled: bool,
    },
    /// Another module of the manifest (named `module`, or `main`).
    Module,
    /// A host function the embedding program must register.
    HostFunction,
}

impl ImportProvider {
    /// True when interplug satisfies the import without a host function (a module
    /// import still needs the other module to export the name).
    pub fn is_builtin(self) -> bool {
        matches!(
            self,
            ImportProvider::Kernel
                | ImportProvider::Wasi { enabled: true }
                | ImportProvider::Module
        )
    }
}

/// Who provides the import `module`.`name` (a function when `is_function`) of the
/// module named `importer`, when the manifest's other modules are `module_names` and
/// WASI is `wasi`. A module other than `main` may also import from `main`.
pub fn import_provider(
    importer: &str,
    module: &str,
    name: &str,
    is_function: bool,
    module_names: &[&str],
    wasi: bool,
) -> ImportProvider {
    if module == ENV_MODULE {
        if is_function && ENV_FUNCTIONS.contains(&name) {
            ImportProvider::Kernel
        } else {
            ImportProvider::UnknownKernel
        }
    } else if module == BULK_MODULE {
        // Imports the bulk-I/O pass adds (a module that imports them itself is
        // refused before linking).
        if is_function && BULK_FUNCTIONS.contains(&name) {
            ImportProvider::Kernel
        } else {
            ImportProvider::UnknownKernel
        }
    } else if module == LAZY_MEMORY_MODULE {
        // The memory interplug gives in place of a module's own (a module that
        // imports it itself is refused before linking).
        if !is_function && name == LAZY_MEMORY_NAME {
            ImportProvider::Kernel
        } else {
            ImportProvider::UnknownKernel
        }
    } else if module == WASI_MODULE {
        ImportProvider::Wasi { enabled: wasi }
    } else if module_names.contains(&module) || (module == MAIN_MODULE && importer != MAIN_MODULE) {
        ImportProvider::Module
    } else {
        ImportProvider::HostFunction
    }
}

/// The comparison that ends a copy loop (`br_if 0` continues while it holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// `a != b`.
    Ne,
    /// `a < b`, unsigned.
    LtU,
}

/// What the rewritten code tells the bulk call about the loop it replaces: how the
/// loop ends and how many bytes one iteration moves. Passed as one `i64` constant.
///
/// At the end of iteration `k` (from 0) the loop compares `a0 + k * step_a` with
/// `b0 + k * step_b`, in `width`-bit arithmetic, and goes on while `compare` holds.
///
/// ```
/// use interplug::abi::{Compare, LoopShape};
/// // `i += 8; i != end`, starting at 0 with end = 64: 8 iterations.
/// let shape = LoopShape { compare: Compare::Ne, width: 64, chunk: 8, step_a: 8, step_b: 0 };
/// assert_eq!(LoopShape::decode(shape.encode()), Some(shape));
/// assert_eq!(shape.trip_count(8, 64), Some(8));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopShape {
    /// The comparison.
    pub compare: Compare,
    /// 32 or 64.
    pub width: u32,
    /// Bytes one iteration copies: 8 or 1.
    pub chunk: u64,
    /// How much the left operand grows per iteration.
    pub step_a: i16,
    /// How much the right operand grows per iteration.
    pub step_b: i16,
}

impl LoopShape {
    /// The shape as the `i64` constant the rewritten code passes.
    pub fn encode(&self) -> i64 {
        let compare: u64 = match self.compare {
            Compare::Ne => 0,
            Compare::LtU => 1,
        };
        let bits = compare
            | (u64::from(self.width) << 8)
            | (self.chunk << 16)
            | (u64::from(self.step_a as u16) << 32)
            | (u64::from(self.step_b as u16) << 48);
        bits as i64
    }

    /// Reads a shape back; `None` for anything [`LoopShape::encode`] cannot give.
    pub fn decode(bits: i64) -> Option<Self> {
        let bits = bits as u64;
        let compare = match bits & 0xff {
            0 => Compare::Ne,
            1 => Compare::LtU,
            _ => return None,
        };
        let width = ((bits >> 8) & 0xff) as u32;
        let chunk = (bits >> 16) & 0xff;
        if !matches!(width, 32 | 64) || !matches!(chunk, 1 | 8) || (bits >> 24) & 0xff != 0 {
            return None;
        }
        Some(LoopShape {
            compare,
            width,
            chunk,
            step_a: ((bits >> 32) & 0xffff) as u16 as i16,
            step_b: ((bits >> 48) & 0xffff) as u16 as i16,
        })
    }

    /// The number of iterations (at least 1: the test comes after the body) of a
    /// loop whose operands are `a0` and `b0` at the end of the first iteration
    /// (`width`-bit values, zero-extended), or `None` when it cannot be stated
    /// simply: the loop never ends by its test, or an operand would wrap around.
    pub fn trip_count(&self, a0: i64, b0: i64) -> Option<u64> {
        let mask = if self.width == 32 {
            u64::from(u32::MAX)
        } else {
            u64::MAX
        };
        let (a0, b0) = (a0 as u64 & mask, b0 as u64 & mask);
        let iterations_after_first = match self.compare {
            Compare::Ne => {
                // The loop stops at the first k where d0 + k * sd == 0 (mod 2^width).
                let d0 = a0.wrapping_sub(b0) & mask;
                if d0 == 0 {
                    0
                } else {
                    let sd = i64::from(self.step_a) - i64::from(self.step_b);
                    let magnitude = sd.unsigned_abs();
                    if !magnitude.is_power_of_two() {
                        return None;
                    }
                    let distance = if sd > 0 { d0.wrapping_neg() & mask } else { d0 };
                    if distance % magnitude != 0 {
                        return None;
                    }
                    distance / magnitude
                }
            }
            Compare::LtU => {
                // The loop stops at the first k where a0 + k * sa >= b0, if a never
                // wraps around before.
                if self.step_b != 0 || self.step_a <= 0 {
                    return None;
                }
                let sa = self.step_a as u64;
                if a0 >= b0 {
                    0
                } else {
                    let k = (b0 - a0).div_ceil(sa);
                    let last = a0.checked_add(k.checked_mul(sa)?)?;
                    if last > mask {
                        return None;
                    }
                    k
                }
            }
        };
        iterations_after_first.checked_add(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers() {
        let p = |m, n, f, w| import_provider("main", m, n, f, &["lib"], w);
        assert_eq!(p(ENV_MODULE, "alloc", true, false), ImportProvider::Kernel);
        assert_eq!(
            p(ENV_MODULE, "alloc", false, false),
            ImportProvider::UnknownKernel
        );
        assert_eq!(
            p(ENV_MODULE, "nope", true, false),
            ImportProvider::UnknownKernel
        );
        assert_eq!(
            p(WASI_MODULE, "fd_write", true, false),
            ImportProvider::Wasi { enabled: false }
        );
        assert_eq!(p("lib", "f", true, false), ImportProvider::Module);
        assert_eq!(p("main", "f", true, false), ImportProvider::HostFunction);
        assert_eq!(
            import_provider("lib", "main", "f", true, &[], false),
            ImportProvider::Module
        );
        assert_eq!(p("host", "f", true, true), ImportProvider::HostFunction);
        assert!(!ImportProvider::Wasi { enabled: false }.is_builtin());
    }

    fn shape(compare: Compare, width: u32, step_a: i16, step_b: i16) -> LoopShape {
        LoopShape {
            compare,
            width,
            chunk: 8,
            step_a,
            step_b,
        }
    }

    #[test]
    fn shapes_round_trip() {
        for s in [
            shape(Compare::Ne, 64, 8, 0),
            shape(Compare::LtU, 32, 1, 0),
            shape(Compare::Ne, 64, -1, 0),
            shape(Compare::Ne, 64, 0, 8),
        ] {
            assert_eq!(LoopShape::decode(s.encode()), Some(s));
        }
        assert_eq!(LoopShape::decode(-1), None);
        assert_eq!(LoopShape::decode(0), None);
    }

    /// The trip count against running the loop's test one iteration at a time.
    fn simulate(s: LoopShape, a0: u64, b0: u64) -> Option<u64> {
        let mask = if s.width == 32 {
            u64::from(u32::MAX)
        } else {
            u64::MAX
        };
        let (mut a, mut b) = (a0 & mask, b0 & mask);
        for k in 1..=10_000u64 {
            let go_on = match s.compare {
                Compare::Ne => a != b,
                Compare::LtU => a < b,
            };
            if !go_on {
                return Some(k);
            }
            a = a.wrapping_add(s.step_a as i64 as u64) & mask;
            b = b.wrapping_add(s.step_b as i64 as u64) & mask;
        }
        None
    }

    #[test]
    fn trip_counts_match_the_loop() {
        let shapes = [
            shape(Compare::Ne, 64, 8, 0),
            shape(Compare::Ne, 64, 0, 8),
            shape(Compare::Ne, 64, -1, 0),
            shape(Compare::Ne, 32, 1, 0),
            shape(Compare::Ne, 32, -8, 0),
            shape(Compare::LtU, 64, 1, 0),
            shape(Compare::LtU, 32, 8, 0),
        ];
        let values = [0u64, 1, 7, 8, 9, 16, 63, 64, 100, 0xffff_fff8, u64::MAX - 7];
        for s in shapes {
            for &a in &values {
                for &b in &values {
                    let expected = simulate(s, a, b);
                    match (s.trip_count(a as i64, b as i64), expected) {
                        (Some(n), Some(_)) => assert_eq!(Some(n), expected, "{s:?} a0={a} b0={b}"),
                        // A long loop: its test must fail after the n-th iteration.
                        (Some(n), None) => {
                            assert!(n > 10_000, "{s:?} a0={a} b0={b}");
                            let mask = if s.width == 32 {
                                u64::from(u32::MAX)
                            } else {
                                u64::MAX
                            };
                            let k = n - 1;
                            let at = |x: u64, step: i16| {
                                x.wrapping_add(k.wrapping_mul(step as i64 as u64)) & mask
                            };
                            let (a, b) = (at(a & mask, s.step_a), at(b & mask, s.step_b));
                            let go_on = match s.compare {
                                Compare::Ne => a != b,
                                Compare::LtU => a < b,
                            };
                            assert!(!go_on, "{s:?} a0={a} b0={b} n={n}");
                        }
                        // Declining is allowed only for loops that run long.
                        (None, _) => assert_eq!(expected, None, "{s:?} a0={a} b0={b}"),
                    }
                }
            }
        }
    }
}
