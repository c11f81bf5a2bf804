//! 100 000 calls on one plug-in do not grow host memory: a counting allocator
//! measures the bytes the process holds.

mod support;
use interplug::Plugin;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

#[test]
fn a_hundred_thousand_calls_do_not_grow_host_memory() {
    let mut plugin = Plugin::new(support::fixture_bytes("count_vowels"), [], false).expect("loads");
    let input = "the quick brown fox jumps over the lazy dog";
    for _ in 0..1_000 {
        plugin
            .call::<&str, &[u8]>("count_vowels", input)
            .expect("call");
    }
    let after_warm_up = counting_alloc::live();
    for _ in 0..99_000 {
        plugin
            .call::<&str, &[u8]>("count_vowels", input)
            .expect("call");
    }
    let after_all = counting_alloc::live();
    let growth = after_all - after_warm_up;
    assert!(
        growth < 4096,
        "host memory grew by {growth} bytes over 99 000 calls"
    );
}
