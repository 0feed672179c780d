//! The Lamport clock with the receive bounds of protocol/ENCODING.md section 4.1, and the stamp
//! that builds outgoing envelopes from it.
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;

use crate::error::Result;
use crate::fail;
use crate::message::Envelope;
use crate::protocol::PROTOCOL_VERSION;
use crate::value::{Value, MAX_SAFE_INTEGER};

/// A jump this far above the local clock is merged freely.
const FREE_JUMP: i64 = 1 << 16;
/// Larger jumps spend a budget of at most 2^32 that refills at 2^20 per second.
const BUDGET_MAX: f64 = 4_294_967_296.0;
const BUDGET_REFILL_PER_SECOND: f64 = 1_048_576.0;
/// Nothing is merged above this: the last 2^32 values are left to the peer's own ticks.
const MERGE_CEILING: i64 = MAX_SAFE_INTEGER - (1 << 32);

#[derive(Debug)]
pub struct LamportClock {
    value: i64,
    budget: f64,
    refilled: Instant,
}

impl Default for LamportClock {
    fn default() -> Self {
        LamportClock { value: 0, budget: BUDGET_MAX, refilled: Instant::now() }
    }
}

impl LamportClock {
    pub fn value(&self) -> i64 {
        self.value
    }

    /// The tick before a send; a clock at 2^53 − 1 issues no further value.
    pub fn tick(&mut self) -> Result<i64> {
        if self.value >= MAX_SAFE_INTEGER {
            return fail!("UNAVAILABLE", "the Lamport clock is exhausted");
        }
        self.value += 1;
        Ok(self.value)
    }

    /// The receive rule, bounded: max(local, bounded) + 1.
    pub fn observe(&mut self, received: i64) {
        let now = Instant::now();
        self.budget = (self.budget + now.duration_since(self.refilled).as_secs_f64() * BUDGET_REFILL_PER_SECOND).min(BUDGET_MAX);
        self.refilled = now;
        let mut bounded = received.min(MERGE_CEILING);
        let jump = bounded - self.value;
        if jump > FREE_JUMP {
            let paid = ((jump - FREE_JUMP) as f64).min(self.budget);
            self.budget -= paid;
            bounded = self.value + FREE_JUMP + paid as i64;
        }
        self.value = self.value.max(bounded).saturating_add(1).min(MAX_SAFE_INTEGER);
    }
}

/// The sender id and clock every envelope of one peer is stamped with.
#[derive(Debug, Clone)]
pub struct Stamp {
    pub sender: String,
    pub clock: Arc<Mutex<LamportClock>>,
}

impl Stamp {
    pub fn new(sender: String) -> Stamp {
        Stamp { sender, clock: Arc::default() }
    }

    pub fn lc(&self) -> i64 {
        self.clock.lock().unwrap().value()
    }

    pub fn observe(&self, lc: i64) {
        self.clock.lock().unwrap().observe(lc);
    }

    /// A new envelope with a fresh id, after ticking the clock.
    pub fn envelope(&self, message_type: &str, body: Value, auth: Option<String>) -> Result<Envelope> {
        self.envelope_with_id(message_type, new_id(), body, auth)
    }

    /// An envelope with a given id: a reply repeats its request's id, a retry its first attempt's.
    pub fn envelope_with_id(&self, message_type: &str, id: String, body: Value, auth: Option<String>) -> Result<Envelope> {
        let lc = self.clock.lock().unwrap().tick()?;
        Ok(Envelope { v: PROTOCOL_VERSION, message_type: message_type.to_string(), id, from: self.sender.clone(), lc, ts: now_ms(), body, auth })
    }
}

/// 22 characters of URL-safe base64 of 16 random bytes (ENCODING.md section 4).
pub fn new_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).expect("the system's random source failed");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `<prefix>-<8 random characters>`: a node id unique per process run.
pub fn new_node_id(prefix: &str) -> String {
    format!("{prefix}-{}", &new_id()[..8])
}

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_small_jumps_freely_and_bounds_large_ones() {
        let mut clock = LamportClock::default();
        clock.observe(100);
        assert_eq!(clock.value(), 101);
        clock.observe(5);
        assert_eq!(clock.value(), 102);
        clock.observe(MAX_SAFE_INTEGER);
        assert!(clock.value() <= 102 + FREE_JUMP + BUDGET_MAX as i64 + 1);
        assert!(clock.value() < MERGE_CEILING);
        assert!(clock.tick().is_ok());
    }
}
