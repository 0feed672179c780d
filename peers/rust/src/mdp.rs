//! MDP/0.2 through the broker (protocol/FRAMES.md section 1): a client that sends one request at
//! a time and matches its reply by id, and a worker connection that serves one request at a time
//! and heartbeats.
use std::time::{Duration, Instant};

use crate::codec::Limits;
use crate::error::{CorreioError, Result};
use crate::fail;
use crate::clock::Stamp;
use crate::message::{decode_message, encode_message, Envelope};
use crate::value::Value;

pub const CLIENT: &[u8] = b"MDPC02";
pub const WORKER: &[u8] = b"MDPW02";
const REQUEST: u8 = 0x01;
const FINAL: u8 = 0x03;
const W_READY: u8 = 0x01;
const W_REQUEST: u8 = 0x02;
const W_FINAL: u8 = 0x04;
const W_HEARTBEAT: u8 = 0x05;
const W_DISCONNECT: u8 = 0x06;
/// FRAMES.md section 1.6.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(2_500);
const LIVENESS: u32 = 3;

fn zmq_error(what: &str, error: zmq::Error) -> CorreioError {
    CorreioError::new("UNAVAILABLE", format!("{what}: {error}"))
}

fn dealer(context: &zmq::Context, endpoint: &str) -> Result<zmq::Socket> {
    let socket = context.socket(zmq::DEALER).map_err(|e| zmq_error("socket", e))?;
    socket.set_linger(0).map_err(|e| zmq_error("linger", e))?;
    socket.connect(endpoint).map_err(|e| CorreioError::new("BAD_REQUEST", format!("cannot connect to {endpoint}: {e}")))?;
    Ok(socket)
}

/// Waits up to `timeout` for a multipart message.
fn receive(socket: &zmq::Socket, timeout: Duration) -> Result<Option<Vec<Vec<u8>>>> {
    let ready = socket.poll(zmq::POLLIN, timeout.as_millis().min(i64::MAX as u128) as i64).map_err(|e| zmq_error("poll", e))?;
    if ready == 0 {
        return Ok(None);
    }
    socket.recv_multipart(0).map(Some).map_err(|e| zmq_error("receive", e))
}

/// An MDP client on one DEALER socket.
pub struct Client {
    socket: zmq::Socket,
    pub stamp: Stamp,
    pub timeout: Duration,
    /// Further attempts with the same id after a time-out.
    pub retries: u32,
    limits: Limits,
}

impl Client {
    pub fn connect(context: &zmq::Context, endpoint: &str, stamp: Stamp, timeout: Duration, retries: u32) -> Result<Client> {
        Ok(Client { socket: dealer(context, endpoint)?, stamp, timeout, retries, limits: Limits::default() })
    }

    /// Sends `body` as `message_type` to `service` and returns the reply envelope (an `error`
    /// reply becomes Err). Replies to other ids are discarded; every reply's lc is merged.
    pub fn request(&self, service: &str, message_type: &str, body: Value, auth: Option<String>) -> Result<Envelope> {
        let envelope = self.stamp.envelope(message_type, body, auth)?;
        let bytes = encode_message(&envelope)?;
        for _attempt in 0..=self.retries {
            self.socket.send_multipart([CLIENT, &[REQUEST], service.as_bytes(), &bytes], 0).map_err(|e| zmq_error("send", e))?;
            let deadline = Instant::now() + self.timeout;
            while let Some(frames) = receive(&self.socket, deadline.saturating_duration_since(Instant::now()))? {
                let Some(reply) = self.reply_frame(&frames, &envelope.id) else { continue };
                self.stamp.observe(reply.lc);
                if reply.message_type == "error" {
                    return Err(CorreioError::from_body(&reply.body));
                }
                return Ok(reply);
            }
        }
        fail!("TIMEOUT", "no reply to {message_type} from {service} within {:?} ({} attempts)", self.timeout, self.retries + 1)
    }

    /// The FINAL reply to `id` among the frames, if that is what they are.
    fn reply_frame(&self, frames: &[Vec<u8>], id: &str) -> Option<Envelope> {
        if frames.len() != 4 || frames[0] != CLIENT || frames[1] != [FINAL] {
            return None; // PARTIAL (v1 never streams) or not MDP: ignored
        }
        let reply = decode_message(&frames[3], &self.limits).ok()?;
        (reply.id == id).then_some(reply)
    }

    /// MMI (FRAMES.md section 1.9): whether a live worker serves `service`.
    pub fn service_exists(&self, service: &str) -> Result<bool> {
        self.socket.send_multipart([CLIENT, &[REQUEST], b"mmi.service", service.as_bytes()], 0).map_err(|e| zmq_error("send", e))?;
        let deadline = Instant::now() + self.timeout;
        while let Some(frames) = receive(&self.socket, deadline.saturating_duration_since(Instant::now()))? {
            if frames.len() == 4 && frames[0] == CLIENT && frames[1] == [FINAL] && frames[2] == b"mmi.service" {
                return Ok(frames[3] == b"200");
            }
        }
        fail!("TIMEOUT", "no MMI answer within {:?}", self.timeout)
    }
}

/// Serves one request: the reply's type and body, or an error to answer with.
pub trait Handler: Fn(&Envelope) -> Result<(String, Value)> + Send + Sync {}
impl<F: Fn(&Envelope) -> Result<(String, Value)> + Send + Sync> Handler for F {}

/// One MDP worker connection for `service`, run until `stop()` returns true: READY, then serve
/// and heartbeat; reconnect after DISCONNECT or when the broker has been silent for
/// interval × liveness.
pub fn serve(context: &zmq::Context, endpoint: &str, service: &str, stamp: &Stamp, handler: &dyn Handler, stop: &dyn Fn() -> bool) -> Result<()> {
    let limits = Limits::default();
    while !stop() {
        let socket = dealer(context, endpoint)?;
        socket.send_multipart([WORKER, &[W_READY], service.as_bytes()], 0).map_err(|e| zmq_error("send", e))?;
        let mut heard = Instant::now();
        let mut beat = Instant::now();
        loop {
            if stop() {
                let _ = socket.send_multipart([WORKER, &[W_DISCONNECT]], 0);
                return Ok(());
            }
            if heard.elapsed() > HEARTBEAT_INTERVAL * LIVENESS {
                break; // the broker is gone: reconnect
            }
            if beat.elapsed() >= HEARTBEAT_INTERVAL {
                socket.send_multipart([WORKER, &[W_HEARTBEAT]], 0).map_err(|e| zmq_error("send", e))?;
                beat = Instant::now();
            }
            let Some(frames) = receive(&socket, Duration::from_millis(250))? else { continue };
            heard = Instant::now();
            if frames.len() < 2 || frames[0] != WORKER {
                continue;
            }
            match frames[1].as_slice() {
                [W_REQUEST] if frames.len() == 5 => {
                    let reply = answer(&frames[4], &limits, stamp, handler);
                    socket.send_multipart([WORKER, &[W_FINAL], &frames[2], b"", &reply], 0).map_err(|e| zmq_error("send", e))?;
                    beat = Instant::now();
                }
                [W_DISCONNECT] => break,
                _ => {} // HEARTBEAT, or nothing a worker acts on
            }
        }
        std::thread::sleep(HEARTBEAT_INTERVAL.min(Duration::from_millis(500)));
    }
    Ok(())
}

/// The encoded reply to one request's bytes: the handler's, or an `error` envelope (hostile or
/// broken input gets an error, never a crash).
fn answer(bytes: &[u8], limits: &Limits, stamp: &Stamp, handler: &dyn Handler) -> Vec<u8> {
    let request = decode_message(bytes, limits);
    let id = match &request {
        Ok(request) => request.id.clone(),
        Err(_) => crate::clock::new_id(),
    };
    let outcome = request.and_then(|request| {
        stamp.observe(request.lc);
        handler(&request)
    });
    let (message_type, body) = match outcome {
        Ok(reply) => reply,
        Err(error) => ("error".to_string(), error.to_body()),
    };
    let encoded = stamp.envelope_with_id(&message_type, id.clone(), body, None).and_then(|reply| encode_message(&reply));
    encoded.unwrap_or_else(|error| {
        let internal = CorreioError::new("INTERNAL", format!("the reply could not be encoded: {error}"));
        let envelope = stamp.envelope_with_id("error", id, internal.to_body(), None).expect("an error envelope");
        encode_message(&envelope).expect("an error envelope encodes")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Stamp;

    fn reply_to(bytes: &[u8]) -> Envelope {
        let stamp = Stamp::new("rs-test".into());
        let handler = |_: &Envelope| Ok(("service.call.reply".to_string(), Value::map([])));
        decode_message(&answer(bytes, &Limits::default(), &stamp, &handler), &Limits::default()).expect("a valid reply envelope")
    }

    #[test]
    fn answers_bytes_that_are_no_envelope_with_an_error_envelope() {
        for (bytes, code) in [(&b"\xc1"[..], "DECODE"), (&b"\x81\xa1v\x02"[..], "UNSUPPORTED_VERSION"), (&b"\x80"[..], "VALIDATION")] {
            let reply = reply_to(bytes);
            assert_eq!(reply.message_type, "error");
            assert_eq!(reply.body.get("code").and_then(Value::as_str), Some(code));
        }
    }
}
