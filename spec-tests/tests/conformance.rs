//! Every conformance case through interplug's Rust API, and, when the official
//! runtime is present (`INTERPLUG_ORACLE_LIB`, see `scripts/fetch-oracle.sh`),
//! through the official runtime too: same outputs, same successes and failures.

use interplug_spec_tests::cases::{self, check, show_outcome, Outcome};

#[test]
fn every_case_gives_the_expected_outcomes() {
    let mut failures = Vec::new();
    for case in cases::all() {
        let outcomes = match cases::run_rust(&case) {
            Ok(outcomes) => outcomes,
            Err(e) => {
                failures.push(format!("{}: creation failed: {e}", case.name));
                continue;
            }
        };
        for (index, (step, outcome)) in case.steps.iter().zip(&outcomes).enumerate() {
            if let Err(mismatch) = check(&step.expect, outcome) {
                failures.push(format!(
                    "{} step {index} ({}): {mismatch}",
                    case.name, step.function
                ));
            }
        }
    }
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
}

#[test]
fn official_runtime_agrees() {
    let Some(oracle) = cases::oracle() else {
        return;
    };
    let mut mismatches = Vec::new();
    let mut compared = 0;
    for case in cases::all() {
        let ours = cases::run_rust(&case);
        let theirs = cases::run_c(&oracle, &case);
        let (ours, theirs) = match (ours, theirs) {
            (Ok(ours), Ok(theirs)) => (ours, theirs),
            (ours, theirs) => {
                mismatches.push(format!(
                    "{}: creation differs: interplug {:?}, official {:?}",
                    case.name,
                    ours.err(),
                    theirs.err()
                ));
                continue;
            }
        };
        let agree_until = case.deliberate_difference.map_or(usize::MAX, |(i, _)| i);
        for (index, (a, b)) in ours.iter().zip(&theirs).enumerate().take(agree_until) {
            compared += 1;
            let same = match (a, b) {
                (Outcome::Ok(x), Outcome::Ok(y)) => x == y,
                (Outcome::Err(..), Outcome::Err(..)) => true,
                _ => false,
            };
            if !same {
                mismatches.push(format!(
                    "{} step {index} ({}): interplug {}, official {}",
                    case.name,
                    case.steps[index].function,
                    show_outcome(a),
                    show_outcome(b)
                ));
            }
        }
    }
    eprintln!(
        "differential: {compared} calls compared with {}",
        oracle.version()
    );
    assert!(
        mismatches.is_empty(),
        "differences from the official runtime:\n{}",
        mismatches.join("\n")
    );
}
