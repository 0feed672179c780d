//! Errors with the codes of protocol/ENCODING.md section 5, as every Correio peer reports them.
use std::fmt;

use crate::value::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct CorreioError {
    /// DECODE, TOO_LARGE, VALIDATION, …, TIMEOUT, UNAVAILABLE (defs.json errorCode).
    pub code: String,
    pub message: String,
    pub retryable: bool,
    /// The optional `data` of an error reply.
    pub data: Option<Value>,
}

/// Codes a retry may cure (ENCODING.md section 5).
const RETRYABLE: &[&str] = &["TIMEOUT", "UNAVAILABLE", "OVERLOADED", "INTERNAL"];

impl CorreioError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        let retryable = RETRYABLE.contains(&code);
        CorreioError { code: code.to_string(), message: message.into(), retryable, data: None }
    }

    /// The error body of an `error` envelope.
    pub fn to_body(&self) -> Value {
        let mut body = Value::map([
            ("code", Value::from(self.code.as_str())),
            ("message", Value::from(self.message.as_str())),
            ("retryable", Value::Bool(self.retryable)),
        ]);
        if let (Value::Map(map), Some(data)) = (&mut body, &self.data) {
            map.insert("data".into(), data.clone());
        }
        body
    }

    /// Reads an `error` envelope's body (already validated against error.json).
    pub fn from_body(body: &Value) -> Self {
        let text = |key: &str| body.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
        CorreioError {
            code: text("code"),
            message: text("message"),
            retryable: matches!(body.get("retryable"), Some(Value::Bool(true))),
            data: body.get("data").cloned(),
        }
    }

    /// The error as the drivers' JSON lines carry it: {code, message, retryable}.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "code": self.code, "message": self.message, "retryable": self.retryable })
    }
}

impl fmt::Display for CorreioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for CorreioError {}

pub type Result<T> = std::result::Result<T, CorreioError>;

/// `Err(CorreioError::new(code, format!(…)))`.
#[macro_export]
macro_rules! fail {
    ($code:expr, $($arg:tt)*) => {
        Err($crate::error::CorreioError::new($code, format!($($arg)*)))
    };
}
