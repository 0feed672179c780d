//! Envelopes (protocol/ENCODING.md section 3): building, encoding, and the message decoder with
//! its checks in the protocol's order, bodies validated against the schemas the crate carries
//! (crate::protocol::SCHEMAS) with boon, a draft 2020-12 validator.
use std::collections::HashMap;
use std::sync::OnceLock;

use crate::codec::{self, Limits};
use crate::error::{CorreioError, Result};
use crate::fail;
use crate::protocol::{message_info, MESSAGES, PROTOCOL_VERSION, SCHEMAS};
use crate::value::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub v: i64,
    pub message_type: String,
    pub id: String,
    pub from: String,
    pub lc: i64,
    pub ts: i64,
    pub body: Value,
    /// Revision 1.1: the access token of the user a request acts for.
    pub auth: Option<String>,
}

impl Envelope {
    pub fn to_value(&self) -> Value {
        let mut envelope = Value::map([
            ("v", Value::Int(self.v)),
            ("type", Value::from(self.message_type.as_str())),
            ("id", Value::from(self.id.as_str())),
            ("from", Value::from(self.from.as_str())),
            ("lc", Value::Int(self.lc)),
            ("ts", Value::Int(self.ts)),
            ("body", self.body.clone()),
        ]);
        if let (Value::Map(map), Some(auth)) = (&mut envelope, &self.auth) {
            map.insert("auth".into(), Value::from(auth.as_str()));
        }
        envelope
    }

    /// Reads a value the envelope schema has accepted.
    pub(crate) fn from_validated(value: Value) -> Envelope {
        let Value::Map(mut map) = value else { unreachable!("the envelope schema requires a map") };
        let mut text = |key: &str| match map.remove(key) {
            Some(Value::Str(text)) => text,
            _ => String::new(),
        };
        let (message_type, id, from) = (text("type"), text("id"), text("from"));
        let auth = match map.remove("auth") {
            Some(Value::Str(auth)) => Some(auth),
            _ => None,
        };
        let int = |key: &str| map.get(key).and_then(Value::as_i64).unwrap_or_default();
        let (v, lc, ts) = (int("v"), int("lc"), int("ts"));
        Envelope { v, message_type, id, from, lc, ts, body: map.remove("body").unwrap_or(Value::Nil), auth }
    }

    /// The body as a generated type (crate::protocol).
    pub fn body_as<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        self.body.to_typed()
    }
}

/// Encodes an envelope after checking it as a receiver would: a peer never sends what it would refuse.
pub fn encode_message(envelope: &Envelope) -> Result<Vec<u8>> {
    let value = envelope.to_value();
    check(&value)?;
    codec::encode(&value)
}

/// The message decoder: bytes to a validated envelope, each failure with its code.
pub fn decode_message(bytes: &[u8], limits: &Limits) -> Result<Envelope> {
    let value = codec::decode(bytes, limits)?;
    check(&value)?;
    Ok(Envelope::from_validated(value))
}

/// The checks of ENCODING.md section 3 after the bytes, in order.
pub fn check(value: &Value) -> Result<()> {
    let Some(version) = value.get("v").and_then(Value::as_i64) else {
        return fail!("VALIDATION", "/v: a message is a map with an integer v");
    };
    if version != PROTOCOL_VERSION {
        return fail!("UNSUPPORTED_VERSION", "version {version} is not supported (this peer speaks {PROTOCOL_VERSION})");
    }
    let schemas = compiled()?;
    validate(&schemas.schemas, schemas.envelope, value, "")?;
    let message_type = value.get("type").and_then(Value::as_str).unwrap_or_default();
    let Some(body_schema) = schemas.bodies.get(message_type) else {
        return fail!("UNKNOWN_TYPE", "unknown message type {message_type:?}");
    };
    validate(&schemas.schemas, *body_schema, value.get("body").unwrap_or(&Value::Nil), "/body")
}

struct Compiled {
    schemas: boon::Schemas,
    envelope: boon::SchemaIndex,
    bodies: HashMap<&'static str, boon::SchemaIndex>,
}

const SCHEMA_BASE: &str = "https://correio.dev/schemas/v1/";

fn compiled() -> Result<&'static Compiled> {
    static COMPILED: OnceLock<std::result::Result<Compiled, String>> = OnceLock::new();
    COMPILED.get_or_init(compile).as_ref().map_err(|error| CorreioError::new("INTERNAL", error.clone()))
}

fn compile() -> std::result::Result<Compiled, String> {
    let mut compiler = boon::Compiler::new();
    compiler.set_default_draft(boon::Draft::V2020_12);
    for (name, text) in SCHEMAS {
        let document: serde_json::Value = serde_json::from_str(text).map_err(|error| format!("{name}: {error}"))?;
        compiler.add_resource(&format!("{SCHEMA_BASE}{name}"), document).map_err(|error| format!("{name}: {error}"))?;
    }
    let mut schemas = boon::Schemas::new();
    let mut index = |name: &str| compiler.compile(&format!("{SCHEMA_BASE}{name}"), &mut schemas).map_err(|error| format!("{name}: {error}"));
    let envelope = index("envelope.json")?;
    let mut bodies = HashMap::new();
    for info in MESSAGES {
        bodies.insert(info.message_type, index(&format!("{}.json", info.message_type))?);
    }
    Ok(Compiled { schemas, envelope, bodies })
}

/// VALIDATION naming the failing field as a JSON Pointer below `prefix`.
fn validate(schemas: &boon::Schemas, index: boon::SchemaIndex, value: &Value, prefix: &str) -> Result<()> {
    let instance = value.for_validation();
    let Err(error) = schemas.validate(&instance, index) else { return Ok(()) };
    let mut leaf = &error;
    while let Some(cause) = leaf.causes.first() {
        leaf = cause;
    }
    let pointer = format!("{prefix}{}", leaf.instance_location);
    let shown = if pointer.is_empty() { "/".to_string() } else { pointer.clone() };
    let mut failure = CorreioError::new("VALIDATION", format!("{shown}: {}", leaf.kind));
    failure.data = Some(Value::map([("path", Value::from(pointer))]));
    Err(failure)
}

/// Whether a message type exists and is a request (the catalogue).
pub fn is_request(message_type: &str) -> bool {
    message_info(message_type).is_some_and(|info| info.pattern == "request")
}
