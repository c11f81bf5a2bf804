//! Linear memory: growth counted once against the memory budget, memories that grow
//! in place, and instances that hold only the pages their plug-in touched.

mod support;
use interplug::{Manifest, Plugin, Wasm};
use support::error_of;

/// A plug-in whose `grow` grows its memory by the pages its input names, one
/// `memory.grow` per comma-separated number, and returns 1 + the index of the first
/// growth refused (0 when all succeeded).
const GROWER: &str = r#"
(module
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (memory (export "memory") 17)
  (func (export "grow") (result i32)
    (local $i i64) (local $n i32) (local $c i32) (local $k i32)
    (block $done
      (loop $next
        (br_if $done (i64.ge_u (local.get $i) (call $input_length)))
        (local.set $c (call $input_load_u8 (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (if (i32.eq (local.get $c) (i32.const 44))
          (then
            (if (i32.lt_s (memory.grow (local.get $n)) (i32.const 0))
              (then (return (i32.add (local.get $k) (i32.const 1)))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (local.set $n (i32.const 0)))
          (else
            (local.set $n (i32.add (i32.mul (local.get $n) (i32.const 10))
                                   (i32.sub (local.get $c) (i32.const 48))))))
        (br $next)))
    (if (i32.lt_s (memory.grow (local.get $n)) (i32.const 0))
      (then (return (i32.add (local.get $k) (i32.const 1)))))
    (i32.const 0)))
"#;

fn grower(max_pages: u32) -> Plugin {
    let manifest =
        Manifest::new([Wasm::data(GROWER.as_bytes().to_vec())]).with_memory_max(max_pages);
    Plugin::new(&manifest, [], false).expect("loads")
}

/// Issue 22, item 4: growing by 1 500 pages needs more fuel than one slice holds, so
/// the engine stops in the middle of the `memory.grow` and the call resumes it. The
/// growth was counted twice, and the next 250 pages went over the budget.
#[test]
fn a_growth_interrupted_by_the_fuel_check_is_counted_once() {
    let mut plugin = grower(3200);
    plugin
        .call::<&str, &[u8]>("grow", "1500,250")
        .expect("17 + 1500 + 250 pages fit in 3200");
    // The budget still holds: 17 + 1750 + 1432 = 3199 pages and the few bytes of the
    // input in the Extism memory fit; one more page does not.
    let mut plugin = grower(3200);
    plugin
        .call::<&str, &[u8]>("grow", "1500,250,1432")
        .expect("within the budget");
    let mut plugin = grower(3200);
    let message = error_of(plugin.call::<&str, &[u8]>("grow", "1500,250,1433"));
    assert!(message.starts_with("oom"), "{message}");
}
