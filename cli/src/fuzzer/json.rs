//! Mutations that keep an input JSON: change a value, its type, drop or add keys
//! and elements. Used when a seed parses as JSON.

use crate::rng::Rng;
use serde_json::{Map, Number, Value};

/// Numbers that often break numeric handling.
const NUMBERS: &[f64] = &[
    0.0,
    -1.0,
    1.0,
    0.5,
    -0.0,
    255.0,
    256.0,
    65536.0,
    2147483647.0,
    2147483648.0,
    4294967296.0,
    9007199254740993.0,
    1e300,
    -1e300,
];

/// Strings that often break string handling.
const STRINGS: &[&str] = &[
    "",
    " ",
    "\0",
    "\u{fffd}",
    "\u{1F600}",
    "\\",
    "\"",
    "\n",
    "%s%n",
    "../../etc/passwd",
    "null",
    "true",
    "0",
    "-1",
];

/// Mutates the JSON text `input`; `None` when it is not JSON.
pub fn mutate(rng: &mut Rng, input: &[u8]) -> Option<Vec<u8>> {
    let mut value: Value = serde_json::from_slice(input).ok()?;
    let nodes = count_nodes(&value);
    let target = rng.below(nodes);
    let mut index = 0;
    mutate_node(rng, &mut value, target, &mut index);
    serde_json::to_vec(&value).ok()
}

fn count_nodes(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(map) => map.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// Walks in pre-order and mutates node number `target`. Returns true once done.
fn mutate_node(rng: &mut Rng, value: &mut Value, target: usize, index: &mut usize) -> bool {
    if *index == target {
        change(rng, value);
        return true;
    }
    *index += 1;
    match value {
        Value::Array(items) => {
            for item in items {
                if mutate_node(rng, item, target, index) {
                    return true;
                }
            }
            false
        }
        Value::Object(map) => {
            for item in map.values_mut() {
                if mutate_node(rng, item, target, index) {
                    return true;
                }
            }
            false
        }
        _ => false,
    }
}

/// Changes one value in place.
fn change(rng: &mut Rng, value: &mut Value) {
    if rng.one_in(5) {
        *value = random_scalar(rng);
        return;
    }
    match value {
        Value::Null | Value::Bool(_) => *value = random_scalar(rng),
        Value::Number(n) => {
            *value = if rng.one_in(3) {
                let delta = rng.range(1, 3) as i64;
                let base = n.as_i64().unwrap_or(0);
                let next = if rng.one_in(2) {
                    base.wrapping_add(delta)
                } else {
                    base.wrapping_sub(delta)
                };
                Value::Number(Number::from(next))
            } else {
                number(rng)
            }
        }
        Value::String(text) => {
            let mut bytes = text.clone().into_bytes();
            let new = match rng.below(4) {
                0 => rng.pick(STRINGS).copied().unwrap_or("").to_string(),
                1 => text.repeat(rng.range(2, 64)),
                _ => {
                    bytes = super::mutate::mutate(rng, &bytes, &[], &[], 4096);
                    String::from_utf8_lossy(&bytes).into_owned()
                }
            };
            *text = new;
        }
        Value::Array(items) => match rng.below(4) {
            0 if !items.is_empty() => {
                let at = rng.below(items.len());
                items.remove(at);
            }
            1 if !items.is_empty() => {
                let at = rng.below(items.len());
                let copy = items[at].clone();
                items.insert(at, copy);
            }
            2 => items.clear(),
            _ => items.push(random_scalar(rng)),
        },
        Value::Object(map) => match rng.below(4) {
            0 if !map.is_empty() => {
                let at = rng.below(map.len());
                if let Some(key) = map.keys().nth(at).cloned() {
                    map.remove(&key);
                }
            }
            1 => {
                let key = format!("k{}", rng.below(8));
                map.insert(key, random_scalar(rng));
            }
            2 => {
                let inner = std::mem::take(map);
                let mut outer = Map::new();
                outer.insert(String::from("a"), Value::Object(inner));
                *map = outer;
            }
            _ => map.clear(),
        },
    }
}

fn number(rng: &mut Rng) -> Value {
    let n = rng.pick(NUMBERS).copied().unwrap_or(0.0);
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::Number(Number::from(n as i64))
    } else {
        Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

fn random_scalar(rng: &mut Rng) -> Value {
    match rng.below(5) {
        0 => Value::Null,
        1 => Value::Bool(rng.one_in(2)),
        2 => number(rng),
        3 => Value::String(rng.pick(STRINGS).copied().unwrap_or("").to_string()),
        _ => Value::Array(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_stays_json() {
        let mut rng = Rng::new(3);
        let mut input = br#"{"name":"x","list":[1,2,{"deep":true}],"n":3.5}"#.to_vec();
        for _ in 0..2000 {
            input = mutate(&mut rng, &input).expect("still JSON");
            assert!(serde_json::from_slice::<Value>(&input).is_ok());
            if input.len() > 100_000 {
                input = b"{}".to_vec();
            }
        }
        assert!(mutate(&mut rng, b"not json").is_none());
    }
}
