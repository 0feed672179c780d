//! correio-chat: a scriptable chat session in Rust, speaking the drivers' JSON lines of
//! tools/interop (peers/go/cmd/correio-chat documents them): commands on stdin, replies and live
//! events on stdout (nothing else is written there), errors on stderr.
//!
//!     correio-chat --broker tcp://127.0.0.1:5555 --proxy tcp://127.0.0.1:5571 --user ana
//!
//! Flags: --broker (default tcp://127.0.0.1:5555), --proxy (the proxy's XPUB endpoint; empty or
//! absent: requests only), --user (required), --service (`chat`, the default, or `srv.<id>` for
//! one server), --timeout-ms (one attempt, default 5000), --retries (same-id retries after a
//! time-out, default 1).
//!
//! Once connected it prints {"ready":true,"user","from","lc"}. Each command
//! {"n":1,"op":"publish","channel":"general","text":"hi"} is answered in order with
//! {"n":1,"ok":true,"result":{…reply body…},"lc"} or {"n":1,"ok":false,"error":{code,message,
//! retryable},"lc"}; events arrive in between as {"event":"publication"|"direct","topic",
//! "publisher","seq","message","lc"} or {"event":"gap","topic","publisher","first","last",
//! "restarted","lc"}. Operations: register, login, refresh, logout, change_password, users,
//! channels, create_channel, join, leave, publish, direct, history, conversation, call, exists,
//! lc, quit. The end of stdin ends the session.
use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value as Json};

use correio::chat::Client;
use correio::clock::{new_node_id, Stamp};
use correio::error::{CorreioError, Result};
use correio::pubsub::{topic, Delivery, Subscriber};
use correio::value::Value;

/// One JSON object per line; replies and events come from two threads.
#[derive(Clone)]
struct Lines(Arc<Mutex<std::io::Stdout>>);

impl Lines {
    fn write(&self, line: &Json) {
        let mut out = self.0.lock().unwrap();
        let _ = writeln!(out, "{line}"); // stdout gone: nobody is listening any more
        let _ = out.flush();
    }
}

enum Control {
    Subscribe(String, Sender<Result<()>>),
    Unsubscribe(String, Sender<Result<()>>),
    Stop,
}

/// The subscriber thread: applies (un)subscriptions, merges each event's lc and prints it.
fn pump(mut subscriber: Subscriber, stamp: Stamp, lines: Lines, control: Receiver<Control>) {
    loop {
        while let Ok(command) = control.try_recv() {
            match command {
                Control::Subscribe(topic, done) => drop(done.send(subscriber.subscribe(&topic))),
                Control::Unsubscribe(topic, done) => drop(done.send(subscriber.unsubscribe(&topic))),
                Control::Stop => return,
            }
        }
        let deliveries = match subscriber.receive(Duration::from_millis(100)) {
            Ok(deliveries) => deliveries,
            Err(error) => return eprintln!("correio-chat: subscriber: {error}"),
        };
        for delivery in deliveries {
            let line = match delivery {
                Delivery::Gap { topic, publisher, first, last, restarted } => {
                    json!({ "event": "gap", "topic": topic, "publisher": publisher, "first": first, "last": last, "restarted": restarted, "lc": stamp.lc() })
                }
                Delivery::Event { topic, publisher, seq, envelope } => {
                    let event = match (envelope.message_type.as_str(), topic.split('/').next()) {
                        ("chat.publication", Some("chan")) => "publication",
                        ("chat.direct", Some("user")) => "direct",
                        _ => continue, // not a chat event on a chat topic
                    };
                    stamp.observe(envelope.lc);
                    json!({ "event": event, "topic": topic, "publisher": publisher, "seq": seq, "message": envelope.body.to_json(), "lc": stamp.lc() })
                }
            };
            lines.write(&line);
        }
    }
}

struct Session {
    client: Client,
    control: Option<Sender<Control>>,
}

fn text(command: &Json, key: &str) -> Option<String> {
    command.get(key).and_then(Json::as_str).map(str::to_string)
}

fn required(command: &Json, key: &str) -> Result<String> {
    text(command, key).ok_or_else(|| CorreioError::new("BAD_REQUEST", format!("{key} is required")))
}

fn json_of<T: Serialize>(reply: Result<T>) -> Result<Json> {
    reply.and_then(|reply| serde_json::to_value(reply).map_err(|error| CorreioError::new("INTERNAL", error.to_string())))
}

impl Session {
    fn execute(&mut self, op: &str, command: &Json) -> Result<Json> {
        let limit = command.get("limit").and_then(Json::as_i64);
        let c = &mut self.client;
        match op {
            "register" => json_of(c.register(&required(command, "password")?)),
            "login" => json_of(c.login(text(command, "password").as_deref())),
            "refresh" => json_of(c.refresh()),
            "logout" => json_of(c.logout()),
            "change_password" => json_of(c.change_password(&required(command, "password")?, &required(command, "new_password")?)),
            "users" => json_of(c.users(limit, text(command, "after"))),
            "channels" => json_of(c.channels(limit, text(command, "after"))),
            "create_channel" => json_of(c.create_channel(&required(command, "channel")?)),
            "publish" => json_of(c.publish(&required(command, "channel")?, &required(command, "text")?)),
            "direct" => json_of(c.direct(&required(command, "to")?, &required(command, "text")?)),
            "history" => json_of(c.history(&required(command, "channel")?, limit, text(command, "before"))),
            "conversation" => json_of(c.conversation(&required(command, "peer")?, limit, text(command, "before"))),
            "join" => self.subscription(true, &required(command, "channel")?),
            "leave" => self.subscription(false, &required(command, "channel")?),
            "call" => {
                let params = command.get("params").map(Value::from_json).transpose()?;
                Ok(c.call_action(&required(command, "action")?, params)?.to_json())
            }
            "exists" => Ok(json!({ "exists": c.requests().service_exists(&required(command, "service")?)? })),
            "lc" => Ok(json!({ "lc": c.requests().stamp.lc() })),
            _ => Err(CorreioError::new("BAD_REQUEST", format!("unknown op {op:?}"))),
        }
    }

    /// join and leave: they fail only on the client's side (no proxy, a name that makes no topic).
    fn subscription(&self, join: bool, channel: &str) -> Result<Json> {
        let Some(control) = &self.control else { return Err(CorreioError::new("BAD_REQUEST", "started without --proxy: nothing arrives live")) };
        let (done, outcome) = std::sync::mpsc::channel();
        let topic = topic("chan", channel)?;
        let _ = control.send(if join { Control::Subscribe(topic, done) } else { Control::Unsubscribe(topic, done) });
        outcome.recv().map_err(|_| CorreioError::new("UNAVAILABLE", "the subscriber stopped"))??;
        Ok(json!({}))
    }
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|arg| arg == name).and_then(|i| args.get(i + 1)).cloned()
}

fn start(args: &[String], lines: &Lines) -> Result<(Session, Option<JoinHandle<()>>)> {
    let broker = flag(args, "--broker").unwrap_or_else(|| "tcp://127.0.0.1:5555".into());
    let proxy = flag(args, "--proxy").unwrap_or_default();
    let user = flag(args, "--user").ok_or_else(|| CorreioError::new("BAD_REQUEST", "--user is required"))?;
    let service = flag(args, "--service").unwrap_or_else(|| "chat".into());
    let number = |name: &str, default: u64| flag(args, name).map_or(Ok(default), |text| text.parse().map_err(|_| CorreioError::new("BAD_REQUEST", format!("{name} takes a number"))));
    let timeout = Duration::from_millis(number("--timeout-ms", 5_000)?);
    let retries = number("--retries", 1)? as u32;
    let context = zmq::Context::new();
    let stamp = Stamp::new(new_node_id(&format!("rs-chat-{user}")));
    let client = Client::new(&context, &broker, &user, &service, stamp.clone(), timeout, retries)?;
    if proxy.is_empty() {
        return Ok((Session { client, control: None }, None));
    }
    // Subscribe to the user's own topic first, read state after (FRAMES.md section 3.6).
    let subscriber = Subscriber::connect(&context, &proxy)?;
    subscriber.subscribe(&topic("user", &user)?)?;
    let (control, commands) = channel();
    let lines = lines.clone();
    let thread = std::thread::spawn(move || pump(subscriber, stamp, lines, commands));
    Ok((Session { client, control: Some(control) }, Some(thread)))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let lines = Lines(Arc::new(Mutex::new(std::io::stdout())));
    let (mut session, pumping) = match start(&args, &lines) {
        Ok(started) => started,
        Err(error) => {
            eprintln!("correio-chat: {error}");
            return ExitCode::from(2);
        }
    };
    let stamp = session.client.requests().stamp.clone();
    lines.write(&json!({ "ready": true, "user": session.client.user, "from": stamp.sender, "lc": stamp.lc() }));
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let (n, outcome) = match serde_json::from_str::<Json>(&line) {
            Ok(command) => {
                let op = command.get("op").and_then(Json::as_str).unwrap_or_default().to_string();
                if op == "quit" {
                    break;
                }
                (command.get("n").cloned().unwrap_or(Json::Null), session.execute(&op, &command))
            }
            Err(error) => (Json::Null, Err(CorreioError::new("BAD_REQUEST", format!("not a command line: {error}")))),
        };
        let reply = match outcome {
            Ok(result) => json!({ "n": n, "ok": true, "result": result, "lc": stamp.lc() }),
            Err(error) => json!({ "n": n, "ok": false, "error": error.to_json(), "lc": stamp.lc() }),
        };
        lines.write(&reply);
    }
    if let (Some(control), Some(thread)) = (session.control.take(), pumping) {
        let _ = control.send(Control::Stop);
        let _ = thread.join();
    }
    ExitCode::SUCCESS
}
