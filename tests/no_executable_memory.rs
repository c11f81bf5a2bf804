//! interplug never maps memory that is both writable and executable: after running
//! plug-ins, no mapping of this process has `w` and `x` together.

#![cfg(target_os = "linux")]

mod support;
use interplug::{Manifest, Plugin, Wasm};

#[test]
fn no_writable_executable_mappings_after_running_plugins() {
    let mut vowels = Plugin::new(support::fixture_bytes("count_vowels"), [], false).expect("loads");
    vowels
        .call::<&str, &str>("count_vowels", "hello world")
        .expect("call");
    let manifest = Manifest::new([Wasm::data(support::fixture_bytes("limits"))]);
    let mut limits = Plugin::new(&manifest, [support::panicking_host_fn()], false).expect("loads");
    limits
        .call::<&str, &str>("compute", "100000")
        .expect("call");
    let mut reactor = Plugin::new(support::fixture_bytes("reactor"), [], true).expect("loads");
    reactor.call::<&str, &str>("init_count", "").expect("call");

    let maps = std::fs::read_to_string("/proc/self/maps").expect("procfs");
    let offending: Vec<&str> = maps
        .lines()
        .filter(|line| {
            let perms = line.split_whitespace().nth(1).unwrap_or("");
            perms.contains('w') && perms.contains('x')
        })
        .collect();
    assert!(maps.lines().count() > 10, "read the process's mappings");
    assert!(
        offending.is_empty(),
        "writable+executable mappings:\n{}",
        offending.join("\n")
    );
}
