//! What the coverage map of an instrumented plug-in showed so far: the hit-count
//! classes seen per block, the best progress per comparison, and per corpus entry the
//! blocks it hit and the comparisons it made (for corpus minimisation and
//! input-to-state mutations).

use interplug::fuzzing::{input_to_state, Comparison, Trace};
use interplug::rewrite::coverage::CoverageMap;

/// Most input-to-state candidates queued per new corpus entry.
const MAX_I2S_PER_ENTRY: usize = 256;
/// Most comparisons kept per corpus entry.
const MAX_COMPARES_PER_ENTRY: usize = 512;

/// Coverage state: the map of the instrumented plug-in and what was seen.
pub(super) struct Coverage {
    map: CoverageMap,
    trace: Trace,
    /// Hit-count classes seen, one bit per class, per block.
    seen: Vec<u8>,
    /// Blocks hit so far.
    edges: usize,
    /// Best progress per comparison site: equal executions, matching low bytes.
    best: Vec<(u32, u32)>,
    /// Blocks each corpus entry hit, for corpus minimisation.
    entry_blocks: Vec<Vec<u32>>,
    /// Comparisons each corpus entry made, for input-to-state mutations.
    entry_compares: Vec<Vec<Comparison>>,
}

impl Coverage {
    /// Nothing seen yet of the plug-in `map` describes.
    pub(super) fn new(map: CoverageMap) -> Self {
        let sites = map.layout.sites as usize;
        Coverage {
            seen: vec![0; map.layout.blocks as usize],
            map,
            trace: Trace::default(),
            edges: 0,
            best: vec![(0, 0); sites],
            entry_blocks: Vec::new(),
            entry_compares: Vec::new(),
        }
    }

    /// Records the last trace; true when it showed something new.
    pub(super) fn novel(&mut self) -> bool {
        let mut new = false;
        for block in &self.trace.hit {
            let count = self
                .trace
                .counters
                .get(*block as usize)
                .copied()
                .unwrap_or(0);
            if let Some(seen) = self.seen.get_mut(*block as usize) {
                let class = hit_class(count);
                if *seen & class == 0 {
                    if *seen == 0 {
                        self.edges += 1;
                    }
                    *seen |= class;
                    new = true;
                }
            }
        }
        for comparison in &self.trace.compares {
            let progress = (comparison.equal, comparison.matching_bytes());
            let Some(best) = self.best.get_mut(comparison.site as usize) else {
                continue;
            };
            if progress.0 > best.0 || progress.1 > best.1 {
                best.0 = best.0.max(progress.0);
                best.1 = best.1.max(progress.1);
                new = true;
            }
        }
        new
    }

    /// Blocks hit so far.
    pub(super) fn edges(&self) -> usize {
        self.edges
    }

    /// Blocks the plug-in has.
    pub(super) fn blocks(&self) -> usize {
        self.map.layout.blocks as usize
    }

    /// True when a corpus entry made a comparison worth an input-to-state mutation.
    pub(super) fn has_compares(&self) -> bool {
        !self.entry_compares.is_empty()
    }

    /// The comparisons corpus entry `entry` made.
    pub(super) fn compares_of(&self, entry: usize) -> Option<&Vec<Comparison>> {
        self.entry_compares.get(entry)
    }

    /// Where the last call trapped, as text: the block that ran last, then the call
    /// sites below it.
    pub(super) fn trap_location(&self) -> String {
        self.map.describe_location(&self.trace.location)
    }

    /// Reads what the last call recorded from the plug-in's coverage `memory`
    /// (`None`: the call left none, so nothing was recorded).
    pub(super) fn read_trace(&mut self, memory: Option<&mut [u8]>) {
        match memory {
            Some(memory) => self.trace.take(&self.map, memory),
            None => self.trace = Trace::default(),
        }
    }

    /// Remembers what the last call (with `input`, just added to the corpus) covered
    /// and compared; returns its input-to-state mutations, the comparisons made last
    /// first (the input was rejected near them).
    pub(super) fn keep_entry(&mut self, input: &[u8]) -> Vec<Vec<u8>> {
        self.entry_blocks.push(self.trace.hit.clone());
        let mut compares: Vec<Comparison> = self
            .trace
            .compares
            .iter()
            .filter(|c| c.left != c.right || c.left_bytes != c.right_bytes)
            .cloned()
            .collect();
        // Keep the last ones: the input was rejected near them.
        compares.drain(..compares.len().saturating_sub(MAX_COMPARES_PER_ENTRY));
        let mut candidates = Vec::new();
        // The last comparisons first: the input was rejected near them.
        for comparison in compares.iter().rev() {
            input_to_state(input, comparison, 8, &mut candidates);
            if candidates.len() >= MAX_I2S_PER_ENTRY {
                break;
            }
        }
        self.entry_compares.push(compares);
        candidates
    }

    /// The entries of `corpus` left once those whose blocks shorter or broader
    /// entries cover are dropped: entries covering the most blocks are kept first,
    /// then any that covers a block not covered yet.
    pub(super) fn minimized<'a>(&self, corpus: &'a [Vec<u8>]) -> Vec<&'a [u8]> {
        let mut order: Vec<usize> = (0..corpus.len()).collect();
        order.sort_by_key(|&i| {
            let blocks = self.entry_blocks.get(i).map_or(0, Vec::len);
            (std::cmp::Reverse(blocks), corpus[i].len(), i)
        });
        let mut covered = vec![false; self.seen.len()];
        let mut kept = Vec::new();
        for i in order {
            let blocks = self.entry_blocks.get(i).map_or(&[][..], Vec::as_slice);
            let mut adds = false;
            for block in blocks {
                if let Some(slot) = covered.get_mut(*block as usize) {
                    adds |= !*slot;
                    *slot = true;
                }
            }
            if adds {
                kept.push(i);
            }
        }
        kept.sort_unstable();
        kept.into_iter().map(|i| corpus[i].as_slice()).collect()
    }
}

/// AFL's hit-count classes: 1, 2, 3, 4-7, 8-15, 16-31, 32-127, 128+, one bit each.
fn hit_class(count: u8) -> u8 {
    match count {
        0 => 0,
        1 => 1,
        2 => 2,
        3 => 4,
        4..=7 => 8,
        8..=15 => 16,
        16..=31 => 32,
        32..=127 => 64,
        _ => 128,
    }
}
