//! The canonical MessagePack subset of protocol/ENCODING.md: an encoder that writes the shortest
//! formats with keys in UTF-8 byte order (rmp picks the formats), and a strict decoder of its own
//! that checks truncation, limits, floats, extensions, keys and UTF-8 before it allocates.
use std::collections::BTreeMap;

use crate::error::Result;
use crate::fail;
use crate::value::{Value, MAX_SAFE_INTEGER};

/// The decoder's limits (ENCODING.md section 2); `Limits::default()` has the protocol's defaults.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_string_bytes: usize,
    pub max_bin_bytes: usize,
    pub max_array_length: usize,
    pub max_map_size: usize,
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bytes: 1 << 20, max_string_bytes: 65_536, max_bin_bytes: 1 << 20, max_array_length: 10_000, max_map_size: 1_000, max_depth: 32 }
    }
}

/// The canonical encoding of a value. Integers outside ±(2^53−1) are refused.
pub fn encode(value: &Value) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    write(&mut out, value)?;
    Ok(out)
}

fn write(out: &mut Vec<u8>, value: &Value) -> Result<()> {
    // Writing to a Vec cannot fail: the unwraps below never fire.
    match value {
        Value::Nil => rmp::encode::write_nil(out).unwrap(),
        Value::Bool(b) => rmp::encode::write_bool(out, *b).unwrap(),
        Value::Int(n) if n.unsigned_abs() > MAX_SAFE_INTEGER as u64 => return fail!("BAD_REQUEST", "integer {n} is beyond ±(2^53−1)"),
        Value::Int(n) if *n >= 0 => drop(rmp::encode::write_uint(out, *n as u64).unwrap()),
        Value::Int(n) => drop(rmp::encode::write_sint(out, *n).unwrap()),
        Value::Str(s) => rmp::encode::write_str(out, s).unwrap(),
        Value::Bin(bytes) => rmp::encode::write_bin(out, bytes).unwrap(),
        Value::Array(items) => {
            rmp::encode::write_array_len(out, items.len() as u32).unwrap();
            for item in items {
                write(out, item)?;
            }
        }
        Value::Map(map) => {
            rmp::encode::write_map_len(out, map.len() as u32).unwrap();
            for (key, item) in map {
                rmp::encode::write_str(out, key).unwrap();
                write(out, item)?;
            }
        }
    }
    Ok(())
}

/// Decodes exactly one value filling `bytes`.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Value> {
    let mut values = decode_many(bytes, 1, limits)?;
    Ok(values.remove(0))
}

/// Decodes exactly `n` values back to back filling `bytes` (a pub/sub bodies frame).
pub fn decode_many(bytes: &[u8], n: usize, limits: &Limits) -> Result<Vec<Value>> {
    if bytes.len() > limits.max_bytes {
        return fail!("TOO_LARGE", "{} bytes is over the limit of {}", bytes.len(), limits.max_bytes);
    }
    let mut reader = Reader { bytes, pos: 0, limits };
    let mut values = Vec::with_capacity(n.min(1_000));
    for _ in 0..n {
        if reader.pos == bytes.len() {
            return fail!("DECODE", "expected {n} values, found {}", values.len());
        }
        values.push(reader.value(0)?);
    }
    if reader.pos != bytes.len() {
        return fail!("DECODE", "{} trailing bytes after the value", bytes.len() - reader.pos);
    }
    Ok(values)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    limits: &'a Limits,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        if n > self.bytes.len() - self.pos {
            return fail!("DECODE", "truncated: {n} bytes announced, {} left", self.bytes.len() - self.pos);
        }
        let slice = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    fn uint(&mut self, size: usize) -> Result<u64> {
        Ok(self.take(size)?.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn int(&mut self, size: usize) -> Result<i64> {
        let raw = self.uint(size)?;
        let shift = 64 - 8 * size as u32;
        Ok(((raw << shift) as i64) >> shift)
    }

    /// A length prefix: more than the bytes left (at `min_bytes` per item) is DECODE, checked
    /// before the limit, which is TOO_LARGE.
    fn length(&mut self, size: usize, min_bytes: usize, limit: usize, what: &str) -> Result<usize> {
        let n = self.uint(size)? as usize;
        if n.saturating_mul(min_bytes) > self.bytes.len() - self.pos {
            return fail!("DECODE", "truncated: {what} of {n} announced, {} bytes left", self.bytes.len() - self.pos);
        }
        if n > limit {
            return fail!("TOO_LARGE", "{what} of {n} is over the limit of {limit}");
        }
        Ok(n)
    }

    fn value(&mut self, depth: usize) -> Result<Value> {
        let marker = self.take(1)?[0];
        match marker {
            0x00..=0x7f => Ok(Value::Int(i64::from(marker))),
            0x80..=0x8f => self.map(usize::from(marker & 0x0f), depth),
            0x90..=0x9f => self.array(usize::from(marker & 0x0f), depth),
            0xa0..=0xbf => self.string(usize::from(marker & 0x1f)).map(Value::Str),
            0xc0 => Ok(Value::Nil),
            0xc2 => Ok(Value::Bool(false)),
            0xc3 => Ok(Value::Bool(true)),
            0xc4..=0xc6 => {
                let size = 1 << (marker - 0xc4);
                let n = self.length(size, 1, self.limits.max_bin_bytes, "binary")?;
                Ok(Value::Bin(self.take(n)?.to_vec()))
            }
            0xcc..=0xcf => {
                let n = self.uint(1 << (marker - 0xcc))?;
                if n > MAX_SAFE_INTEGER as u64 {
                    return fail!("DECODE", "integer {n} is beyond ±(2^53−1)");
                }
                Ok(Value::Int(n as i64))
            }
            0xd0..=0xd3 => {
                let n = self.int(1 << (marker - 0xd0))?;
                if n.unsigned_abs() > MAX_SAFE_INTEGER as u64 {
                    return fail!("DECODE", "integer {n} is beyond ±(2^53−1)");
                }
                Ok(Value::Int(n))
            }
            0xd9..=0xdb => {
                let size = 1 << (marker - 0xd9);
                let n = self.length(size, 1, usize::MAX, "string")?;
                self.string(n).map(Value::Str)
            }
            0xdc | 0xdd => {
                let n = self.length(if marker == 0xdc { 2 } else { 4 }, 1, self.limits.max_array_length, "array")?;
                self.array(n, depth)
            }
            0xde | 0xdf => {
                let n = self.length(if marker == 0xde { 2 } else { 4 }, 2, self.limits.max_map_size, "map")?;
                self.map(n, depth)
            }
            0xe0..=0xff => Ok(Value::Int(i64::from(marker as i8))),
            0xca | 0xcb => fail!("DECODE", "floats are not part of v1 (0x{marker:02x})"),
            0xc7..=0xc9 | 0xd4..=0xd8 => fail!("DECODE", "extensions are not part of v1 (0x{marker:02x})"),
            0xc1 => fail!("DECODE", "0xc1 is never used"),
        }
    }

    fn string(&mut self, n: usize) -> Result<String> {
        let limit = self.limits.max_string_bytes;
        let bytes = self.take(n)?;
        if n > limit {
            return fail!("TOO_LARGE", "a string of {n} bytes is over the limit of {limit}");
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(text.to_string()),
            Err(error) => fail!("DECODE", "invalid UTF-8 in a string: {error}"),
        }
    }

    fn nested(&self, depth: usize) -> Result<usize> {
        if depth + 1 > self.limits.max_depth {
            return fail!("TOO_LARGE", "nested deeper than {}", self.limits.max_depth);
        }
        Ok(depth + 1)
    }

    fn array(&mut self, n: usize, depth: usize) -> Result<Value> {
        let depth = self.nested(depth)?;
        if n > self.limits.max_array_length {
            return fail!("TOO_LARGE", "an array of {n} items is over the limit of {}", self.limits.max_array_length);
        }
        let mut items = Vec::with_capacity(n);
        for _ in 0..n {
            items.push(self.value(depth)?);
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, n: usize, depth: usize) -> Result<Value> {
        let depth = self.nested(depth)?;
        let mut map = BTreeMap::new();
        for _ in 0..n {
            let key = match self.value(depth)? {
                Value::Str(key) => key,
                other => return fail!("DECODE", "a map key must be a string, not {other:?}"),
            };
            if key == "__proto__" {
                return fail!("DECODE", "the map key __proto__ is refused");
            }
            let value = self.value(depth)?;
            if map.insert(key.clone(), value).is_some() {
                return fail!("DECODE", "duplicate map key {key:?}");
            }
        }
        Ok(Value::Map(map))
    }
}
