//! Making inputs: a seeded generator, byte-level mutations of a seed, and
//! structure-aware mutations of a JSON seed (a value replaced, removed,
//! duplicated or retyped), so most inputs get past the JSON parser and
//! reach the field-by-field reading behind it.

use serde_json::{Map, Value};

/// xorshift64*: fast, and reproducible from its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Bytes that break parsers: quotes, escapes, separators, percent signs,
/// control characters, the start of multi-byte UTF-8.
const INTERESTING_BYTES: &[u8] = b"\"\\{}[]:,.%&=?#/+ \t\n\r\x00\x7f\xc3\xe2\xf0\xff-_0123456789eE";

/// Values that break readers of JSON: wrong types, edges of numbers and
/// strings.
fn interesting_value(rng: &mut Rng) -> Value {
    match rng.below(14) {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(2)),
        2 => 0.into(),
        3 => (-1).into(),
        4 => u64::MAX.into(),
        5 => i64::MIN.into(),
        6 => serde_json::Number::from_f64(1e308).map_or(Value::Null, Value::Number),
        7 => serde_json::Number::from_f64(-0.5).map_or(Value::Null, Value::Number),
        8 => "".into(),
        9 => "\u{0}\u{202e}é😀".into(),
        10 => "x".repeat(rng.below(300)).into(),
        11 => Value::Array(Vec::new()),
        12 => Value::Object(Map::new()),
        _ => "https://other.example/\"<b>".into(),
    }
}

/// A mutated copy of `value`: a few changes at random depths.
pub fn mutate_json(rng: &mut Rng, value: &Value, dictionary: &[&str]) -> Value {
    let mut value = value.clone();
    for _ in 0..1 + rng.below(4) {
        mutate_somewhere(rng, &mut value, dictionary, 0);
    }
    value
}

fn mutate_somewhere(rng: &mut Rng, value: &mut Value, dictionary: &[&str], depth: usize) {
    // Go deeper with some chance, so every level gets its share.
    let descend = depth < 12 && rng.below(3) != 0;
    match value {
        Value::Object(map) if descend && !map.is_empty() => {
            let key = map.keys().nth(rng.below(map.len())).cloned().unwrap_or_default();
            if let Some(child) = map.get_mut(&key) {
                return mutate_somewhere(rng, child, dictionary, depth + 1);
            }
        }
        Value::Array(items) if descend && !items.is_empty() => {
            let at = rng.below(items.len());
            return mutate_somewhere(rng, &mut items[at], dictionary, depth + 1);
        }
        _ => {}
    }
    match (rng.below(7), &mut *value) {
        (0, Value::Object(map)) if !map.is_empty() => {
            let key = map.keys().nth(rng.below(map.len())).cloned().unwrap_or_default();
            map.remove(&key);
        }
        (1, Value::Object(map)) => {
            let key = rng.pick(dictionary).trim_matches('"').to_string();
            map.insert(key, interesting_value(rng));
        }
        (2, Value::Array(items)) if !items.is_empty() => {
            let copy = items[rng.below(items.len())].clone();
            for _ in 0..1 + rng.below(3) {
                items.push(copy.clone());
            }
        }
        (3, Value::Array(items)) if !items.is_empty() => {
            items.remove(rng.below(items.len()));
        }
        (4, Value::String(text)) => *text = mutate_bytes(rng, text.as_bytes(), dictionary, 3),
        (5, _) => *value = Value::String(rng.pick(dictionary).trim_matches('"').to_string()),
        _ => *value = interesting_value(rng),
    }
}

/// A copy of `input` with up to `rounds` byte-level changes, as text
/// (invalid UTF-8 replaced, as the browser's decoding would).
pub fn mutate_bytes(rng: &mut Rng, input: &[u8], dictionary: &[&str], rounds: usize) -> String {
    let mut bytes = input.to_vec();
    for _ in 0..1 + rng.below(rounds.max(1)) {
        let len = bytes.len();
        match rng.below(9) {
            0 if len > 0 => {
                let at = rng.below(len);
                bytes[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.below(len);
                bytes[at] = *rng.pick(INTERESTING_BYTES);
            }
            2 => {
                let at = rng.below(len + 1);
                bytes.insert(at, *rng.pick(INTERESTING_BYTES));
            }
            3 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(16)).min(len);
                bytes.drain(start..end);
            }
            4 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(32)).min(len);
                let copy = bytes[start..end].to_vec();
                let at = rng.below(len + 1);
                bytes.splice(at..at, copy);
            }
            5 if len > 0 => bytes.truncate(rng.below(len)),
            _ => {
                let at = rng.below(len + 1);
                let word = rng.pick(dictionary).as_bytes().to_vec();
                bytes.splice(at..at, word);
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Text of random length from the dictionary and random bytes only.
pub fn from_scratch(rng: &mut Rng, dictionary: &[&str]) -> String {
    let mut bytes = Vec::new();
    for _ in 0..rng.below(16) {
        if rng.chance(3) {
            bytes.push(rng.next() as u8);
        } else {
            bytes.extend_from_slice(rng.pick(dictionary).as_bytes());
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_makes_the_same_inputs() {
        let seed = serde_json::json!({"a": [1, {"b": "c"}], "d": true});
        let run = |s| {
            let mut rng = Rng::new(s);
            (0..50).map(|_| mutate_json(&mut rng, &seed, &["\"k\""]).to_string()).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn json_mutations_change_the_document_and_reach_deep_values() {
        let seed = serde_json::json!({"a": {"b": {"c": {"d": "deep"}}}});
        let mut rng = Rng::new(3);
        let mutated: Vec<Value> = (0..500).map(|_| mutate_json(&mut rng, &seed, &["\"k\""])).collect();
        assert!(mutated.iter().filter(|m| **m != seed).count() > 450);
        assert!(mutated.iter().any(|m| m["a"]["b"]["c"].is_object() && m["a"]["b"]["c"]["d"] != "deep"));
    }
}
