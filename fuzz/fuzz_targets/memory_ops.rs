//! Sequences of Extism memory operations against a simple model: never a panic,
//! always agreeing with the model.
#![no_main]

use arbitrary::Arbitrary;
use interplug::memory::{ExtismMemory, FIRST_BLOCK_OFFSET};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;

#[derive(Arbitrary, Debug)]
enum Op {
    Alloc(u16),
    AllocHuge(u64),
    Free(u8),
    FreeRaw(u64),
    Store(u8, u16, u64),
    Load(u8, u16),
    LoadRaw(u64),
    Length(u64),
    Reset,
    Limit(u32),
}

fuzz_target!(|ops: Vec<Op>| {
    // A budget, as a plug-in with `memory.max_pages` has: without one the arena may
    // legitimately grow to 4 GiB, past the fuzzer's RSS limit.
    const BUDGET: u64 = 16 << 20;
    let mut memory = ExtismMemory::new();
    memory.set_limit(BUDGET);
    let mut model: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    for op in ops {
        let pick = |model: &BTreeMap<u64, Vec<u8>>, i: u8| {
            (!model.is_empty()).then(|| {
                let (h, b) = model
                    .iter()
                    .nth(i as usize % model.len())
                    .expect("in range");
                (*h, b.len())
            })
        };
        match op {
            Op::Alloc(n) => {
                if let Some(h) = memory.alloc(u64::from(n)) {
                    model.insert(h, memory.block(h).expect("new block").to_vec());
                }
            }
            Op::AllocHuge(n) => {
                if let Some(h) = memory.alloc(n) {
                    model.insert(h, memory.block(h).expect("new block").to_vec());
                }
            }
            Op::Free(i) => {
                if let Some((h, _)) = pick(&model, i) {
                    memory.free(h);
                    model.remove(&h);
                }
            }
            Op::FreeRaw(h) => {
                memory.free(h);
                model.remove(&h);
            }
            Op::Store(i, o, v) => {
                if let Some((h, len)) = pick(&model, i) {
                    let o = u64::from(o);
                    if o as usize + 8 <= len {
                        memory.store_u64(h + o, v).expect("in block");
                        if let Some(b) = model.get_mut(&h) {
                            b[o as usize..o as usize + 8].copy_from_slice(&v.to_le_bytes());
                        }
                    }
                }
            }
            Op::Load(i, o) => {
                if let Some((h, len)) = pick(&model, i) {
                    let o = u64::from(o);
                    if o as usize + 8 <= len {
                        let want = &model[&h][o as usize..o as usize + 8];
                        let got = memory.load_u64(h + o).expect("in block");
                        assert_eq!(got.to_le_bytes(), want);
                    }
                }
            }
            Op::LoadRaw(p) => {
                let ok = memory.load_u64(p).is_ok();
                let inside = p >= FIRST_BLOCK_OFFSET
                    && p.checked_add(8)
                        .is_some_and(|e| e <= memory.reserved_bytes());
                assert_eq!(ok, inside);
            }
            Op::Length(h) => {
                assert_eq!(
                    memory.length(h),
                    model.get(&h).map_or(0, |b| b.len() as u64)
                );
            }
            Op::Reset => {
                memory.reset(1 << 16);
                model.clear();
            }
            Op::Limit(l) => memory.set_limit(u64::from(l).min(BUDGET)),
        }
        for (h, bytes) in &model {
            assert_eq!(memory.block(*h).expect("live"), &bytes[..]);
        }
    }
});
