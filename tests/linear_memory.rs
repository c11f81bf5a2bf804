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

/// True where this build gives instances lazy memory (see `src/limits/linear.rs`).
const LAZY: bool = cfg!(all(
    target_pointer_width = "64",
    any(
        target_os = "linux",
        target_os = "android",
        target_vendor = "apple"
    )
));

/// Resident 4 KiB pages of `bytes` (`mincore`; Linux and Android only).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn resident_pages(bytes: &[u8]) -> usize {
    let page = 4096;
    let start = bytes.as_ptr() as usize;
    let aligned = start - start % page;
    let len = bytes.len() + (start - aligned);
    let mut vec = vec![0u8; len.div_ceil(page)];
    // SAFETY: `aligned..aligned + len` covers the pages of `bytes`, which are mapped;
    // `mincore` only reads the page tables and writes one byte per page into `vec`.
    let rc = unsafe { libc::mincore(aligned as *mut libc::c_void, len, vec.as_mut_ptr()) };
    assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
    vec.iter().filter(|b| **b & 1 == 1).count()
}

/// The 4 KiB pages `bytes` lies on (one more than its length in pages when it does not
/// start on a page, as the engine's heap buffer may not on 32-bit hosts).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn spanned_pages(bytes: &[u8]) -> usize {
    let start = bytes.as_ptr() as usize;
    let end = start + bytes.len();
    end.div_ceil(4096) - start / 4096
}

/// Makes an instance of another plug-in: an instance made over a warm reservation
/// (one a dropped instance left) holds its pages until the next instance is made,
/// which gives back the all-zero pages of every such instance between calls. The
/// tests below measure after that, whatever other tests dropped meanwhile.
fn make_another_plugin() {
    grower(100).instantiate().expect("instantiates");
}

/// A live count_vowels plug-in, called once, holds only the pages its code wrote of
/// its 17-page (1.06 MiB) linear memory: about 47 KiB instead of all of it.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn an_instance_holds_only_the_pages_its_plugin_wrote() {
    let mut plugin = Plugin::new(support::fixture_bytes("count_vowels"), [], false).expect("loads");
    plugin
        .call::<&str, &str>("count_vowels", "hello world")
        .expect("call");
    make_another_plugin();
    let memory = plugin.exported_memory("memory").expect("memory");
    assert!(memory.len() >= 17 << 16);
    let resident = resident_pages(memory) * 4096;
    if LAZY {
        eprintln!(
            "{} KiB of {} KiB resident",
            resident >> 10,
            memory.len() >> 10
        );
        assert!(resident < 64 << 10, "{} KiB resident", resident >> 10);
    } else {
        assert_eq!(
            resident,
            spanned_pages(memory) * 4096,
            "the engine's memory is all written"
        );
    }
}

/// A host that makes, calls and drops instances in a loop gets each memory over the
/// resident pages the dropped one left (no system call); an instance kept alive then
/// holds them only until the next instance is made.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn an_instance_made_after_a_drop_holds_its_pages_only_until_the_next_is_made() {
    let compiled = interplug::CompiledPlugin::new(interplug::PluginBuilder::new(
        support::fixture_bytes("count_vowels"),
    ))
    .expect("compiles");
    let call = |plugin: &mut Plugin| {
        let out: String = plugin.call("count_vowels", "aeiou").expect("call");
        assert!(out.contains(r#""count":5"#), "{out}");
    };
    for _ in 0..3 {
        call(&mut Plugin::new_from_compiled(&compiled).expect("instance"));
    }
    let mut kept = Plugin::new_from_compiled(&compiled).expect("instance");
    call(&mut kept);
    let mut next = Plugin::new_from_compiled(&compiled).expect("instance");
    call(&mut next);
    let memory = kept.exported_memory("memory").expect("memory");
    if LAZY {
        let resident = resident_pages(memory) * 4096;
        assert!(resident < 64 << 10, "{} KiB resident", resident >> 10);
    }
    call(&mut kept);
}

/// With lazy memory turned off (`with_lazy_memory(false)`, or `INTERPLUG_LAZY_MEMORY=0`)
/// the memory is the engine's heap buffer, every page of it written by the engine's
/// zero fill; the plug-in answers the same.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn lazy_memory_can_be_turned_off() {
    let bytes = support::fixture_bytes("count_vowels");
    let mut lazy = interplug::PluginBuilder::new(bytes.clone())
        .build()
        .expect("loads");
    let mut eager = interplug::PluginBuilder::new(bytes)
        .with_lazy_memory(false)
        .build()
        .expect("loads");
    let input = "hello world";
    assert_eq!(
        lazy.call::<&str, &str>("count_vowels", input)
            .expect("call"),
        eager
            .call::<&str, &str>("count_vowels", input)
            .expect("call")
    );
    make_another_plugin();
    let memory = eager.exported_memory("memory").expect("memory");
    assert_eq!(
        resident_pages(memory),
        spanned_pages(memory),
        "the engine's memory is all written"
    );
    if LAZY {
        let memory = lazy.exported_memory("memory").expect("memory");
        assert!(resident_pages(memory) * 4096 < 64 << 10);
    }
}

/// `memory.grow` one page at a time never moves the memory: it grows in place in the
/// reservation, and what was written stays.
#[test]
fn memory_grows_in_place() {
    let mut plugin = grower(4000);
    plugin.call::<&str, &[u8]>("grow", "0").expect("no growth");
    let start = {
        let memory = plugin.exported_memory("memory").expect("memory");
        memory[12345] = 7;
        memory.as_ptr() as usize
    };
    let ones = vec!["1"; 2000].join(",");
    plugin.call::<&str, &[u8]>("grow", &ones).expect("grows");
    let memory = plugin.exported_memory("memory").expect("memory");
    assert_eq!(memory.len(), (17 + 2000) << 16);
    assert_eq!(memory[12345], 7);
    assert!(memory[17 << 16..].iter().all(|b| *b == 0));
    if LAZY {
        assert_eq!(memory.as_ptr() as usize, start, "moved");
    }
}

/// The pages a `memory.grow` filled with zeros and the plug-in did not write go back
/// to the system when the call ends.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn pages_a_growth_filled_are_given_back_after_the_call() {
    let mut plugin = grower(1000);
    plugin.call::<&str, &[u8]>("grow", "100").expect("grows");
    make_another_plugin();
    let memory = plugin.exported_memory("memory").expect("memory");
    assert_eq!(memory.len(), 117 << 16);
    let resident = resident_pages(&memory[17 << 16..]);
    if LAZY {
        assert_eq!(resident, 0);
    } else {
        assert_eq!(
            resident,
            spanned_pages(&memory[17 << 16..]),
            "written by the engine"
        );
    }
}

/// Writes one byte in every 4 KiB page of 100 more pages of memory, then traps.
const TOUCHER: &str = r#"
(module
  (memory (export "memory") 1)
  (func (export "touch_and_trap") (result i32)
    (local $p i32)
    (drop (memory.grow (i32.const 100)))
    (loop $next
      (i32.store8 (local.get $p) (i32.const 1))
      (local.set $p (i32.add (local.get $p) (i32.const 4096)))
      (br_if $next (i32.lt_u (local.get $p) (i32.const 6619136))))
    unreachable)
  (func (export "noop") (result i32) (i32.const 0)))
"#;

/// The instance rebuilt after a trap starts with a memory that holds nothing, and the
/// old one is given back.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn a_rebuild_after_a_trap_gives_the_pages_back() {
    let mut plugin = Plugin::new(TOUCHER, [], false).expect("loads");
    let message = error_of(plugin.call::<&str, &[u8]>("touch_and_trap", ""));
    assert!(message.contains("unreachable"), "{message}");
    let memory = plugin.exported_memory("memory").expect("memory");
    assert_eq!(memory.len(), 101 << 16);
    assert_eq!(
        resident_pages(memory),
        spanned_pages(memory),
        "every page written"
    );
    plugin.call::<&str, &[u8]>("noop", "").expect("rebuilt");
    make_another_plugin();
    let memory = plugin.exported_memory("memory").expect("memory");
    assert_eq!(memory.len(), 1 << 16, "a new instance");
    let resident = resident_pages(memory);
    if LAZY {
        assert_eq!(resident, 0);
    }
}

/// `Plugin::reset` gives the Extism memory's host buffer back, not only its blocks.
#[test]
fn reset_gives_the_extism_memory_back() {
    let mut plugin = Plugin::new(support::fixture_bytes("count_vowels"), [], false).expect("loads");
    let input = "a".repeat(4 << 20);
    plugin
        .call::<&str, &str>("count_vowels", &input)
        .expect("call");
    assert!(plugin.current_plugin().memory().capacity_bytes() >= 4 << 20);
    plugin.reset().expect("reset");
    let kept = plugin.current_plugin().memory().capacity_bytes();
    assert!(kept <= 64, "{kept} bytes kept after reset");
    plugin
        .call::<&str, &str>("count_vowels", "aaa")
        .expect("usable after reset");
}

/// The memory import interplug gives modules is its own: a plug-in cannot ask for it.
#[test]
fn a_plugin_cannot_import_interplugs_memory() {
    let wat = r#"(module (import "interplug:memory" "memory" (memory 1))
        (func (export "f") (result i32) (i32.const 0)))"#;
    let error = Plugin::new(wat, [], false).expect_err("refused");
    assert_eq!(
        interplug::ErrorExt::kind(&error),
        interplug::ErrorKind::NotFound
    );
    assert!(
        format!("{error:#}").contains("interplug:memory"),
        "{error:#}"
    );
}

/// Many instances of one compiled plug-in live at once, each with its own memory, and
/// go away with their plug-ins (a leak of mappings would exhaust the address space or
/// the kernel's map count long before 3 000 reservations of 4 GiB).
#[test]
fn thousands_of_instances_come_and_go() {
    let compiled = interplug::CompiledPlugin::new(interplug::PluginBuilder::new(
        support::fixture_bytes("count_vowels"),
    ))
    .expect("compiles");
    for round in 0..3 {
        let mut plugins: Vec<Plugin> = (0..1000)
            .map(|_| Plugin::new_from_compiled(&compiled).expect("instance"))
            .collect();
        for (i, plugin) in plugins.iter_mut().enumerate().step_by(97) {
            let out: String = plugin
                .call("count_vowels", format!("{round} {i} aeiou"))
                .expect("call");
            assert!(out.contains(r#""count":5"#), "{out}");
        }
    }
}
