//! protocol/vectors/v1 (format: protocol/vectors/README.md) against this crate's codec and
//! message decoder: every valid case encodes to its bytes exactly and decodes back, every
//! decode-only case decodes, every invalid case is refused with its code.
use std::path::PathBuf;

use correio::codec::{decode, encode, Limits};
use correio::message::decode_message;
use correio::value::{from_hex, to_hex, Value};
use serde_json::Value as Json;

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../protocol/vectors/v1")
}

fn load(path: &PathBuf) -> Json {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn cases<'a>(file: &'a Json, kind: &str) -> impl Iterator<Item = &'a Json> {
    file[kind].as_array().map(|cases| cases.iter()).into_iter().flatten()
}

/// Runs one file with `decoder` (the raw codec or the message decoder); returns the failures and the number of cases.
fn run(path: &PathBuf, decoder: &dyn Fn(&[u8]) -> correio::error::Result<Value>) -> (Vec<String>, usize) {
    let file = load(path);
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let mut failures = Vec::new();
    let mut count = 0;
    let mut fail = |description: &Json, why: String| failures.push(format!("{name}: {description}: {why}"));
    for kind in ["valid", "decode_only"] {
        for case in cases(&file, kind) {
            count += 1;
            let value = Value::from_json(&case["value"]).expect("a vector value");
            let bytes = from_hex(case["msgpack_hex"].as_str().unwrap()).unwrap();
            if kind == "valid" {
                match encode(&value) {
                    Ok(encoded) if encoded == bytes => {}
                    Ok(encoded) => fail(&case["description"], format!("encoded {} instead of {}", to_hex(&encoded), to_hex(&bytes))),
                    Err(error) => fail(&case["description"], format!("encoder refused: {error}")),
                }
            }
            match decoder(&bytes) {
                Ok(decoded) if decoded == value => {}
                Ok(decoded) => fail(&case["description"], format!("decoded {decoded:?}")),
                Err(error) => fail(&case["description"], format!("refused: {error}")),
            }
        }
    }
    for case in cases(&file, "invalid") {
        count += 1;
        let bytes = match case.get("msgpack_hex") {
            Some(hex) => from_hex(hex.as_str().unwrap()).unwrap(),
            None => encode(&Value::from_json(&case["value"]).unwrap()).expect("an invalid case's value encodes"),
        };
        let expected = case["error"].as_str().unwrap();
        match decoder(&bytes) {
            Err(error) if error.code == expected => {}
            Err(error) => fail(&case["description"], format!("refused with {} instead of {expected} ({error})", error.code)),
            Ok(_) => fail(&case["description"], format!("accepted; expected {expected}")),
        }
    }
    (failures, count)
}

fn assert_passes(paths: Vec<PathBuf>, decoder: &dyn Fn(&[u8]) -> correio::error::Result<Value>) {
    let (mut failures, mut count) = (Vec::new(), 0);
    for path in &paths {
        let (file_failures, file_count) = run(path, decoder);
        failures.extend(file_failures);
        count += file_count;
    }
    println!("{count} cases in {} files", paths.len());
    assert!(count > 0, "no vector cases found in {}", vectors_dir().display());
    assert!(failures.is_empty(), "{} of {count} cases failed:\n{}", failures.len(), failures.iter().take(30).cloned().collect::<Vec<_>>().join("\n"));
}

#[test]
fn codec_vectors() {
    let limits = Limits::default();
    assert_passes(vec![vectors_dir().join("codec.json")], &|bytes| decode(bytes, &limits));
}

#[test]
fn envelope_and_message_vectors() {
    let limits = Limits::default();
    let mut paths = vec![vectors_dir().join("envelope.json")];
    let mut messages: Vec<PathBuf> = std::fs::read_dir(vectors_dir().join("messages")).unwrap().map(|entry| entry.unwrap().path()).collect();
    messages.sort();
    assert!(messages.len() >= 30, "expected a vector file per message type");
    paths.extend(messages);
    assert_passes(paths, &|bytes| decode_message(bytes, &limits).map(|envelope| envelope.to_value()));
}
