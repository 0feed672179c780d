//! The v1 value model (protocol/ENCODING.md section 1): nil, booleans, integers within
//! ±(2^53−1), strings, binary, arrays and maps with string keys. A BTreeMap keeps keys in UTF-8
//! byte order, which is the canonical order, and cannot hold a duplicate.
use std::collections::BTreeMap;

use serde::{de::DeserializeOwned, Serialize};

use crate::error::{CorreioError, Result};
use crate::fail;

/// The largest integer v1 carries: 2^53 − 1.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    Str(String),
    Bin(Vec<u8>),
    Array(Vec<Value>),
    Map(BTreeMap<String, Value>),
}

impl From<&str> for Value {
    fn from(text: &str) -> Self {
        Value::Str(text.to_string())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Self {
        Value::Str(text)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}

impl Value {
    pub fn map<'a>(entries: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
        Value::Map(entries.into_iter().map(|(key, value)| (key.to_string(), value)).collect())
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(map) => map.get(key),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// From the vectors' JSON form (protocol/vectors/README.md): integers only, and an object
    /// whose only key is `$bin` is binary written in hex.
    pub fn from_json(json: &serde_json::Value) -> Result<Value> {
        Ok(match json {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) if i.unsigned_abs() <= MAX_SAFE_INTEGER as u64 => Value::Int(i),
                _ => return fail!("BAD_REQUEST", "{n} is not an integer within ±(2^53−1)"),
            },
            serde_json::Value::String(s) => Value::Str(s.clone()),
            serde_json::Value::Array(items) => Value::Array(items.iter().map(Value::from_json).collect::<Result<_>>()?),
            serde_json::Value::Object(map) => {
                if let (1, Some(serde_json::Value::String(hex))) = (map.len(), map.get("$bin")) {
                    return Ok(Value::Bin(from_hex(hex)?));
                }
                Value::Map(map.iter().map(|(k, v)| Ok((k.clone(), Value::from_json(v)?))).collect::<Result<_>>()?)
            }
        })
    }

    /// To the vectors' JSON form: binary as `{"$bin": hex}`.
    pub fn to_json(&self) -> serde_json::Value {
        self.json_with(&|bytes| serde_json::json!({ "$bin": to_hex(bytes) }))
    }

    /// For a JSON Schema validator, which knows no binary. v1 binary may appear only where a
    /// schema sets no type; a non-integer number is the exact stand-in: every typed v1 schema
    /// refuses it (numbers are integers) and an untyped one accepts it.
    pub fn for_validation(&self) -> serde_json::Value {
        self.json_with(&|_| serde_json::json!(0.5))
    }

    fn json_with(&self, binary: &dyn Fn(&[u8]) -> serde_json::Value) -> serde_json::Value {
        match self {
            Value::Nil => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(n) => serde_json::Value::from(*n),
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::Bin(bytes) => binary(bytes),
            Value::Array(items) => serde_json::Value::Array(items.iter().map(|item| item.json_with(binary)).collect()),
            Value::Map(map) => serde_json::Value::Object(map.iter().map(|(k, v)| (k.clone(), v.json_with(binary))).collect()),
        }
    }

    /// A generated body type (crate::protocol) as a value, through serde_json.
    pub fn from_typed<T: Serialize>(typed: &T) -> Result<Value> {
        let json = serde_json::to_value(typed).map_err(|error| CorreioError::new("BAD_REQUEST", error.to_string()))?;
        Value::from_json(&json)
    }

    /// A value as a generated body type; binary cannot become one.
    pub fn to_typed<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_value(self.to_json()).map_err(|error| CorreioError::new("VALIDATION", error.to_string()))
    }
}

pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn from_hex(hex: &str) -> Result<Vec<u8>> {
    if hex.len() % 2 != 0 || !hex.is_ascii() {
        return fail!("BAD_REQUEST", "not an even number of hex digits");
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| CorreioError::new("BAD_REQUEST", format!("bad hex {hex:?}"))))
        .collect()
}
