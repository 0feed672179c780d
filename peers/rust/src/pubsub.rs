//! Subscribing through the proxy (protocol/FRAMES.md section 3): `[topic, header, bodies]`
//! messages, the header `{n, p, s}`, `n` envelopes back to back, and gap detection per
//! (publisher, topic) by the table of section 3.4.
use std::collections::HashMap;
use std::time::Duration;

use crate::codec::{decode, decode_many, Limits};
use crate::error::{CorreioError, Result};
use crate::fail;
use crate::message::{check, Envelope};
use crate::value::{Value, MAX_SAFE_INTEGER};

/// What one received message holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// An envelope numbered `seq` by its publisher.
    Event { topic: String, publisher: String, seq: i64, envelope: Envelope },
    /// Bodies `first..=last` of this publisher on this topic were lost (`restarted`: it restarted).
    Gap { topic: String, publisher: String, first: i64, last: i64, restarted: bool },
}

/// `chan/<channel>/`, `user/<user>/`: names never contain '/' (FRAMES.md section 4.1).
pub fn topic(namespace: &str, name: &str) -> Result<String> {
    if name.is_empty() || name.contains('/') {
        return fail!("BAD_REQUEST", "{name:?} cannot name a {namespace}/ topic");
    }
    Ok(format!("{namespace}/{name}/"))
}

/// A SUB socket on the proxy's XPUB endpoint.
pub struct Subscriber {
    socket: zmq::Socket,
    last: HashMap<(String, String), i64>,
    limits: Limits,
    /// Messages dropped as malformed.
    pub dropped: u64,
}

/// A jump larger than this is forged or broken: no gap is reported for it.
const IMPLAUSIBLE_JUMP: i64 = 1 << 32;

impl Subscriber {
    pub fn connect(context: &zmq::Context, endpoint: &str) -> Result<Subscriber> {
        let socket = context.socket(zmq::SUB).map_err(|e| CorreioError::new("UNAVAILABLE", e.to_string()))?;
        socket.set_linger(0).map_err(|e| CorreioError::new("UNAVAILABLE", e.to_string()))?;
        socket.connect(endpoint).map_err(|e| CorreioError::new("BAD_REQUEST", format!("cannot connect to {endpoint}: {e}")))?;
        Ok(Subscriber { socket, last: HashMap::new(), limits: Limits::default(), dropped: 0 })
    }

    pub fn subscribe(&self, topic: &str) -> Result<()> {
        self.socket.set_subscribe(topic.as_bytes()).map_err(|e| CorreioError::new("BAD_REQUEST", e.to_string()))
    }

    pub fn unsubscribe(&self, topic: &str) -> Result<()> {
        self.socket.set_unsubscribe(topic.as_bytes()).map_err(|e| CorreioError::new("BAD_REQUEST", e.to_string()))
    }

    /// Waits up to `timeout` for one message; malformed ones are counted and dropped.
    pub fn receive(&mut self, timeout: Duration) -> Result<Vec<Delivery>> {
        let ready = self.socket.poll(zmq::POLLIN, timeout.as_millis() as i64).map_err(|e| CorreioError::new("UNAVAILABLE", e.to_string()))?;
        if ready == 0 {
            return Ok(Vec::new());
        }
        let frames = self.socket.recv_multipart(0).map_err(|e| CorreioError::new("UNAVAILABLE", e.to_string()))?;
        match self.parse(&frames) {
            Ok(deliveries) => Ok(deliveries),
            Err(_) => {
                self.dropped += 1;
                Ok(Vec::new())
            }
        }
    }

    fn parse(&mut self, frames: &[Vec<u8>]) -> Result<Vec<Delivery>> {
        let [topic, header, bodies] = frames else { return fail!("DECODE", "a pub/sub message has 3 frames") };
        let topic = String::from_utf8(topic.clone()).map_err(|_| CorreioError::new("DECODE", "topic is not UTF-8"))?;
        let (n, publisher, s) = parse_header(&decode(header, &self.limits)?)?;
        let envelopes = decode_many(bodies, n as usize, &self.limits)?;
        for envelope in &envelopes {
            check(envelope)?;
        }
        let mut deliveries = self.sequence(&topic, &publisher, s, n);
        for (i, value) in envelopes.into_iter().enumerate() {
            let envelope = Envelope::from_validated(value);
            deliveries.push(Delivery::Event { topic: topic.clone(), publisher: publisher.clone(), seq: s + i as i64, envelope });
        }
        Ok(deliveries)
    }

    /// Section 3.4: updates last[(p, topic)] and returns the gap to report, if any.
    fn sequence(&mut self, topic: &str, publisher: &str, s: i64, n: i64) -> Vec<Delivery> {
        let key = (publisher.to_string(), topic.to_string());
        let previous = self.last.insert(key, s + n - 1);
        let gap = |first: i64, last: i64, restarted: bool| vec![Delivery::Gap { topic: topic.to_string(), publisher: publisher.to_string(), first, last, restarted }];
        match previous {
            None => Vec::new(),
            Some(last) if s > last + 1 + IMPLAUSIBLE_JUMP => Vec::new(),
            Some(last) if s == last + 1 => Vec::new(),
            Some(last) if s > last + 1 => gap(last + 1, s - 1, false),
            Some(_) if s == 1 => Vec::new(),
            Some(_) => gap(1, s - 1, true),
        }
    }
}

/// The header map: exactly `n` (1–1000), `p` (a node id) and `s` (with s + n − 1 ≤ 2^53 − 1).
fn parse_header(header: &Value) -> Result<(i64, String, i64)> {
    let Value::Map(map) = header else { return fail!("VALIDATION", "the header is a map") };
    let n = map.get("n").and_then(Value::as_i64).filter(|n| (1..=1000).contains(n));
    let p = map.get("p").and_then(Value::as_str).filter(|p| (1..=128).contains(&p.len()) && p.bytes().all(|b| (0x21..=0x7e).contains(&b)));
    let s = map.get("s").and_then(Value::as_i64).filter(|s| *s >= 1);
    match (n, p, s) {
        (Some(n), Some(p), Some(s)) if map.len() == 3 && s <= MAX_SAFE_INTEGER - n + 1 => Ok((n, p.to_string(), s)),
        _ => fail!("VALIDATION", "a header is {{n: 1..1000, p: node id, s: 1..}} and nothing else"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaps(subscriber: &mut Subscriber, s: i64, n: i64) -> Vec<Delivery> {
        subscriber.sequence("chan/a/", "p1", s, n)
    }

    #[test]
    fn follows_the_sequence_table() {
        let context = zmq::Context::new();
        let mut subscriber = Subscriber::connect(&context, "tcp://127.0.0.1:1").unwrap();
        assert!(gaps(&mut subscriber, 5, 2).is_empty()); // first contact
        assert!(gaps(&mut subscriber, 7, 1).is_empty()); // in order
        assert_eq!(gaps(&mut subscriber, 10, 1), vec![Delivery::Gap { topic: "chan/a/".into(), publisher: "p1".into(), first: 8, last: 9, restarted: false }]);
        assert!(gaps(&mut subscriber, 1, 3).is_empty()); // a restart
        assert_eq!(gaps(&mut subscriber, 2, 1), vec![Delivery::Gap { topic: "chan/a/".into(), publisher: "p1".into(), first: 1, last: 1, restarted: true }]);
        assert!(gaps(&mut subscriber, 3 + (1 << 33), 1).is_empty()); // implausible
    }
}
