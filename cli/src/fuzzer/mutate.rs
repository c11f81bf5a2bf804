//! Byte-level mutations of fuzz inputs.

use crate::rng::Rng;

/// Bytes that often matter to parsers.
const INTERESTING_BYTES: &[u8] = &[
    0x00, 0x01, 0x7f, 0x80, 0xff, b'0', b'9', b'a', b'z', b'A', b'Z', b'#', b'"', b'\'', b'\\',
    b'{', b'}', b'[', b']', b',', b':', b'\n', b'\r', b' ', b'-', b'+', b'.', b'%', b'=', b'/',
];

/// Numbers as text that often break number parsing.
const INTERESTING_NUMBERS: &[&str] = &[
    "0",
    "-0",
    "-1",
    "1",
    "127",
    "128",
    "255",
    "256",
    "-128",
    "32767",
    "65535",
    "65536",
    "2147483647",
    "-2147483648",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "1e308",
    "1e309",
    "NaN",
    "0.1",
    "-1.5e-300",
];

/// Applies one to four random mutations to `input`, using `others` (corpus
/// entries) and `fragments` (pieces of the seeds) as material. The result is at
/// most `max_len` bytes.
pub fn mutate(
    rng: &mut Rng,
    input: &[u8],
    others: &[Vec<u8>],
    fragments: &[Vec<u8>],
    max_len: usize,
) -> Vec<u8> {
    let mut data = input.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        mutate_once(rng, &mut data, others, fragments);
    }
    data.truncate(max_len);
    data
}

/// One mutation, chosen at random.
fn mutate_once(rng: &mut Rng, data: &mut Vec<u8>, others: &[Vec<u8>], fragments: &[Vec<u8>]) {
    const KINDS: usize = 13;
    match rng.below(KINDS) {
        0 => flip_bit(rng, data),
        1 => set_byte(rng, data, None),
        2 => {
            let byte = *rng.pick(INTERESTING_BYTES).unwrap_or(&0);
            set_byte(rng, data, Some(byte))
        }
        3 => {
            let count = rng.range(1, 8);
            let bytes: Vec<u8> = (0..count).map(|_| rng.byte()).collect();
            insert(rng, data, &bytes)
        }
        4 => {
            let byte = if rng.one_in(2) {
                rng.byte()
            } else {
                *rng.pick(INTERESTING_BYTES).unwrap_or(&b'a')
            };
            let count = rng.range(1, 32);
            insert(rng, data, &vec![byte; count])
        }
        5 => delete_range(rng, data),
        6 => duplicate_chunk(rng, data),
        7 => splice(rng, data, others),
        8 => {
            if let Some(fragment) = random_fragment(rng, fragments) {
                insert(rng, data, &fragment)
            }
        }
        9 => {
            if let Some(fragment) = random_fragment(rng, fragments) {
                overwrite(rng, data, &fragment)
            }
        }
        10 => {
            if !data.is_empty() {
                let len = rng.below(data.len());
                data.truncate(len);
            }
        }
        11 => {
            let number = rng.pick(INTERESTING_NUMBERS).copied().unwrap_or("0");
            if rng.one_in(2) {
                insert(rng, data, number.as_bytes())
            } else {
                overwrite(rng, data, number.as_bytes())
            }
        }
        _ => {
            // Swap two bytes.
            if data.len() >= 2 {
                let a = rng.below(data.len());
                let b = rng.below(data.len());
                data.swap(a, b);
            } else {
                let byte = rng.byte();
                insert(rng, data, &[byte])
            }
        }
    }
}

fn flip_bit(rng: &mut Rng, data: &mut Vec<u8>) {
    if data.is_empty() {
        data.push(rng.byte());
        return;
    }
    let index = rng.below(data.len());
    let bit = rng.below(8);
    if let Some(byte) = data.get_mut(index) {
        *byte ^= 1 << bit;
    }
}

fn set_byte(rng: &mut Rng, data: &mut Vec<u8>, value: Option<u8>) {
    let value = value.unwrap_or_else(|| rng.byte());
    if data.is_empty() {
        data.push(value);
        return;
    }
    let index = rng.below(data.len());
    if let Some(byte) = data.get_mut(index) {
        *byte = value;
    }
}

fn insert(rng: &mut Rng, data: &mut Vec<u8>, bytes: &[u8]) {
    let at = rng.below(data.len() + 1);
    data.splice(at..at, bytes.iter().copied());
}

fn overwrite(rng: &mut Rng, data: &mut Vec<u8>, bytes: &[u8]) {
    let at = rng.below(data.len() + 1);
    let end = (at + bytes.len()).min(data.len());
    data.splice(at..end, bytes.iter().copied());
}

fn delete_range(rng: &mut Rng, data: &mut Vec<u8>) {
    if data.is_empty() {
        return;
    }
    let start = rng.below(data.len());
    let len = rng.range(1, (data.len() - start).min(16));
    data.drain(start..start + len);
}

fn duplicate_chunk(rng: &mut Rng, data: &mut Vec<u8>) {
    if data.is_empty() {
        return;
    }
    let start = rng.below(data.len());
    let len = rng.range(1, (data.len() - start).min(32));
    let chunk = data[start..start + len].to_vec();
    insert(rng, data, &chunk);
}

/// A prefix of `data` followed by a suffix of another corpus entry.
fn splice(rng: &mut Rng, data: &mut Vec<u8>, others: &[Vec<u8>]) {
    let Some(other) = rng.pick(others) else {
        return;
    };
    let cut = rng.below(data.len() + 1);
    let from = rng.below(other.len() + 1);
    data.truncate(cut);
    data.extend_from_slice(&other[from..]);
}

/// A random piece of a random seed.
fn random_fragment(rng: &mut Rng, fragments: &[Vec<u8>]) -> Option<Vec<u8>> {
    let seed = rng.pick(fragments)?;
    if seed.is_empty() {
        return None;
    }
    let start = rng.below(seed.len());
    let len = rng.range(1, seed.len() - start);
    Some(seed[start..start + len].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_respect_max_len_and_do_not_panic() {
        let mut rng = Rng::new(7);
        let seeds = vec![b"#hello".to_vec(), Vec::new(), b"{\"a\":1}".to_vec()];
        let mut input = Vec::new();
        for _ in 0..20_000 {
            input = mutate(&mut rng, &input, &seeds, &seeds, 64);
            assert!(input.len() <= 64);
        }
    }
}
