//! Every conformance case run on plug-ins rewritten by the identity pass and by the
//! fuzzing instrumentation: the same outputs, the same failures (kind of outcome
//! and message) as the plain plug-ins, call by call.

use interplug::fuzzing::instrument_manifest;
use interplug::rewrite::{rewrite, Identity};
use interplug::{Manifest, Wasm};
use interplug_spec_tests::cases::{self, show_outcome, Case};

/// The case with its manifest's modules replaced by `transform`ed copies.
fn transformed(case: &Case, transform: &dyn Fn(&Manifest) -> Manifest) -> Case {
    let manifest = Manifest::from_json(&case.manifest).expect("case manifest parses");
    let mut case = case.clone();
    case.manifest = transform(&manifest).to_json();
    case
}

fn identity(manifest: &Manifest) -> Manifest {
    let modules = interplug::sources::load_modules(manifest).expect("modules load");
    let mut out = manifest.clone();
    out.wasm = modules
        .into_iter()
        .map(|m| {
            let bytes = rewrite(&m.bytes, &mut Identity).expect("identity rewrite");
            Wasm::data(bytes).with_name(m.name)
        })
        .collect();
    out
}

fn instrumented(manifest: &Manifest) -> Manifest {
    instrument_manifest(manifest).expect("instrumentation").0
}

fn compare(label: &str, transform: &dyn Fn(&Manifest) -> Manifest) {
    let mut mismatches = Vec::new();
    for case in cases::all() {
        let plain = cases::run_rust(&case);
        let rewritten = cases::run_rust(&transformed(&case, transform));
        match (plain, rewritten) {
            (Ok(plain), Ok(rewritten)) => {
                for (index, (a, b)) in plain.iter().zip(&rewritten).enumerate() {
                    if a != b {
                        mismatches.push(format!(
                            "{} step {index}: plain {}, {label} {}",
                            case.name,
                            show_outcome(a),
                            show_outcome(b)
                        ));
                    }
                }
            }
            (Err(a), Err(b)) if a == b => {}
            (a, b) => mismatches.push(format!(
                "{}: creation differs: plain {:?}, {label} {:?}",
                case.name,
                a.err(),
                b.err()
            )),
        }
    }
    assert!(mismatches.is_empty(), "{label}:\n{}", mismatches.join("\n"));
}

#[test]
fn identity_rewrite_changes_no_outcome() {
    compare("identity", &identity);
}

#[test]
fn fuzzing_instrumentation_changes_no_outcome() {
    compare("instrumented", &instrumented);
}
