//! MDP/0.2 through the broker (protocol/FRAMES.md section 1): a client that sends one request at
//! a time and matches its reply by id, and a worker connection that serves one request at a time
//! and heartbeats. Both read the classic and the packed framing (section 1.12) and send classic
//! unless `CORREIO_MDP_FRAMING=packed`.
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
/// How MDP headers are framed (FRAMES.md section 1.12): classic RFC 18 frames, or the protocol
/// header, command and service or client address packed into one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    Classic,
    Packed,
}

impl Framing {
    /// `CORREIO_MDP_FRAMING` (`classic` or `packed`), else classic, which every RFC 18 broker knows.
    pub fn from_env() -> Result<Framing> {
        match std::env::var("CORREIO_MDP_FRAMING").unwrap_or_default().as_str() {
            "" | "classic" => Ok(Framing::Classic),
            "packed" => Ok(Framing::Packed),
            other => fail!("BAD_REQUEST", "CORREIO_MDP_FRAMING must be packed or classic, not {other:?}"),
        }
    }
}

/// One message's frames with the header packed or not: `header ‖ command ‖ tail, rest…` or
/// `header, command, tail, (delimiter,) rest…`.
fn framed(framing: Framing, header: &[u8], command: u8, tail: &[u8], delimited: bool, rest: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut frames = match framing {
        Framing::Packed => vec![[header, &[command][..], tail].concat()],
        Framing::Classic => {
            let mut classic = vec![header.to_vec(), vec![command]];
            if !tail.is_empty() || delimited {
                classic.push(tail.to_vec());
            }
            if delimited {
                classic.push(Vec::new());
            }
            classic
        }
    };
    frames.extend(rest.iter().map(|frame| frame.to_vec()));
    frames
}

/// A received message's header in either framing: its framing, command, service or client
/// address, and the frames after it (for a classic worker command, after the delimiter).
fn unframe<'a>(frames: &'a [Vec<u8>], header: &[u8], delimited: bool) -> Option<(Framing, u8, &'a [u8], &'a [Vec<u8>])> {
    let first = frames.first()?;
    if first.len() > header.len() && first.starts_with(header) {
        return Some((Framing::Packed, first[header.len()], &first[header.len() + 1..], &frames[1..]));
    }
    if first.as_slice() != header || frames.len() < 2 || frames[1].len() != 1 {
        return None;
    }
    let tail = frames.get(2).map_or(&[][..], |frame| frame.as_slice());
    // A classic worker command with a body has the empty delimiter after the address.
    let start = if delimited && frames.len() > 3 { 4 } else { 3 };
    if start == 4 && !frames[3].is_empty() {
        return None;
    }
    Some((Framing::Classic, frames[1][0], tail, frames.get(start..).unwrap_or(&[])))
}

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
    /// How requests are framed; replies are read in either framing.
    pub framing: Framing,
    limits: Limits,
}

impl Client {
    pub fn connect(context: &zmq::Context, endpoint: &str, stamp: Stamp, timeout: Duration, retries: u32) -> Result<Client> {
        let framing = Framing::from_env()?;
        Ok(Client { socket: dealer(context, endpoint)?, stamp, timeout, retries, framing, limits: Limits::default() })
    }

    /// Sends `body` as `message_type` to `service` and returns the reply envelope (an `error`
    /// reply becomes Err). Replies to other ids are discarded; every reply's lc is merged.
    pub fn request(&self, service: &str, message_type: &str, body: Value, auth: Option<String>) -> Result<Envelope> {
        let envelope = self.stamp.envelope(message_type, body, auth)?;
        let bytes = encode_message(&envelope)?;
        for _attempt in 0..=self.retries {
            self.socket.send_multipart(framed(self.framing, CLIENT, REQUEST, service.as_bytes(), false, &[&bytes[..]]), 0).map_err(|e| zmq_error("send", e))?;
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
        let (_, command, _, body) = unframe(frames, CLIENT, false)?;
        if command != FINAL || body.len() != 1 {
            return None; // PARTIAL (v1 never streams) or not MDP: ignored
        }
        let reply = decode_message(&body[0], &self.limits).ok()?;
        (reply.id == id).then_some(reply)
    }

    /// MMI (FRAMES.md section 1.9): whether a live worker serves `service`.
    pub fn service_exists(&self, service: &str) -> Result<bool> {
        self.socket.send_multipart(framed(self.framing, CLIENT, REQUEST, b"mmi.service", false, &[service.as_bytes()]), 0).map_err(|e| zmq_error("send", e))?;
        let deadline = Instant::now() + self.timeout;
        while let Some(frames) = receive(&self.socket, deadline.saturating_duration_since(Instant::now()))? {
            if let Some((_, FINAL, b"mmi.service", [code])) = unframe(&frames, CLIENT, false) {
                return Ok(code == b"200");
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
    let framing = Framing::from_env()?;
    while !stop() {
        let socket = dealer(context, endpoint)?;
        socket.send_multipart(framed(framing, WORKER, W_READY, service.as_bytes(), false, &[]), 0).map_err(|e| zmq_error("send", e))?;
        let mut heard = Instant::now();
        let mut beat = Instant::now();
        loop {
            if stop() {
                let _ = socket.send_multipart(framed(framing, WORKER, W_DISCONNECT, b"", false, &[]), 0);
                return Ok(());
            }
            if heard.elapsed() > HEARTBEAT_INTERVAL * LIVENESS {
                break; // the broker is gone: reconnect
            }
            if beat.elapsed() >= HEARTBEAT_INTERVAL {
                socket.send_multipart(framed(framing, WORKER, W_HEARTBEAT, b"", false, &[]), 0).map_err(|e| zmq_error("send", e))?;
                beat = Instant::now();
            }
            let Some(frames) = receive(&socket, Duration::from_millis(250))? else { continue };
            heard = Instant::now();
            match unframe(&frames, WORKER, true) {
                // Each REQUEST is answered in its own framing.
                Some((request_framing, W_REQUEST, client, [body])) if (1..=255).contains(&client.len()) => {
                    let reply = answer(body, &limits, stamp, handler);
                    socket.send_multipart(framed(request_framing, WORKER, W_FINAL, client, true, &[&reply[..]]), 0).map_err(|e| zmq_error("send", e))?;
                    beat = Instant::now();
                }
                Some((_, W_DISCONNECT, [], [])) => break,
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

    fn hex(frames: &[Vec<u8>]) -> Vec<String> {
        frames.iter().map(|frame| frame.iter().map(|byte| format!("{byte:02x}")).collect()).collect()
    }

    #[test]
    fn packs_header_command_and_service_or_address_into_one_frame() {
        let client = [0x00, 0x6b, 0x8b, 0x45, 0x67];
        assert_eq!(hex(&framed(Framing::Packed, CLIENT, REQUEST, b"chat", false, &[&b"b"[..]])), ["4d44504330320163686174", "62"]);
        assert_eq!(hex(&framed(Framing::Packed, WORKER, W_FINAL, &client, true, &[&b"b"[..]])), ["4d445057303204006b8b4567", "62"]);
        assert_eq!(hex(&framed(Framing::Packed, WORKER, W_HEARTBEAT, b"", false, &[])), ["4d445057303205"]);
        assert_eq!(hex(&framed(Framing::Classic, WORKER, W_FINAL, &client, true, &[&b"b"[..]])), ["4d4450573032", "04", "006b8b4567", "", "62"]);
        assert_eq!(hex(&framed(Framing::Classic, WORKER, W_READY, b"chat", false, &[])), ["4d4450573032", "01", "63686174"]);
        assert_eq!(hex(&framed(Framing::Classic, WORKER, W_HEARTBEAT, b"", false, &[])), ["4d4450573032", "05"]);
    }

    #[test]
    fn reads_both_framings_and_nothing_else() {
        let packed = framed(Framing::Packed, WORKER, W_REQUEST, b"c1", true, &[&b"body"[..]]);
        let classic = framed(Framing::Classic, WORKER, W_REQUEST, b"c1", true, &[&b"body"[..]]);
        for (frames, framing) in [(packed, Framing::Packed), (classic, Framing::Classic)] {
            let (read, command, client, body) = unframe(&frames, WORKER, true).expect("a worker command");
            assert_eq!((read, command, client, body), (framing, W_REQUEST, &b"c1"[..], &[b"body".to_vec()][..]));
        }
        let without_delimiter = vec![WORKER.to_vec(), vec![W_REQUEST], b"c1".to_vec(), b"x".to_vec(), b"body".to_vec()];
        assert!(unframe(&without_delimiter, WORKER, true).is_none());
        for framing in [Framing::Classic, Framing::Packed] {
            let disconnect = framed(framing, WORKER, W_DISCONNECT, b"", false, &[]);
            assert!(matches!(unframe(&disconnect, WORKER, true), Some((read, W_DISCONNECT, [], [])) if read == framing));
        }
        assert!(unframe(&[b"MDPW01\x02c1".to_vec()], WORKER, true).is_none());
        assert!(unframe(&[WORKER.to_vec()], WORKER, true).is_none());
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
