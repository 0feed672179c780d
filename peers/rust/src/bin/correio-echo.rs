//! correio-echo: a Rust microservice behind a Correio broker. It serves `<name>.echo` (returns its
//! params) and `<name>.add` (the sum of an array of integers) as service.call.request on broker
//! service svc.<name>, over `--concurrency` worker connections. Prints `ready` once started and
//! runs until it is terminated (a signal ends the process; the system closes its sockets).
//!
//!     correio-echo --endpoint tcp://127.0.0.1:5555 --name rsecho --concurrency 2
use std::process::ExitCode;

use correio::clock::{new_node_id, Stamp};
use correio::error::{CorreioError, Result};
use correio::mdp;
use correio::message::Envelope;
use correio::protocol::ServiceCallRequest;
use correio::value::Value;

fn handle(name: &str, request: &Envelope) -> Result<(String, Value)> {
    if request.message_type != "service.call.request" {
        return Err(CorreioError::new("BAD_REQUEST", format!("svc.{name} serves service.call.request, not {}", request.message_type)));
    }
    // The generated type names the fields; params stay a Value so binary survives the trip.
    let call: ServiceCallRequest = Value::map([("action", request.body.get("action").cloned().unwrap_or(Value::Nil))]).to_typed()?;
    let params = request.body.get("params");
    let result = if call.action == format!("{name}.echo") {
        params.cloned()
    } else if call.action == format!("{name}.add") {
        let items = match params {
            Some(Value::Array(items)) => items,
            _ => return Err(CorreioError::new("BAD_REQUEST", "add takes an array of integers")),
        };
        let sum = items.iter().try_fold(0i64, |sum, item| item.as_i64().and_then(|n| sum.checked_add(n)));
        Some(Value::Int(sum.ok_or_else(|| CorreioError::new("BAD_REQUEST", "add takes an array of integers"))?))
    } else {
        return Err(CorreioError::new("NOT_FOUND", format!("svc.{name} has no action {}", call.action)));
    };
    let body = match result {
        Some(result) => Value::map([("result", result)]),
        None => Value::map([]),
    };
    Ok(("service.call.reply".to_string(), body))
}

fn flag(args: &[String], name: &str, default: &str) -> String {
    args.iter().position(|arg| arg == name).and_then(|i| args.get(i + 1)).cloned().unwrap_or_else(|| default.to_string())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let endpoint = flag(&args, "--endpoint", "tcp://127.0.0.1:5555");
    let name = flag(&args, "--name", "rsecho");
    let Ok(concurrency) = flag(&args, "--concurrency", "2").parse::<usize>() else {
        eprintln!("correio-echo: --concurrency takes a number");
        return ExitCode::from(2);
    };
    let context = zmq::Context::new();
    let stamp = Stamp::new(new_node_id(&format!("rs-worker-{name}")));
    let service = format!("svc.{name}");
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (context, endpoint, service, stamp, name) = (context.clone(), endpoint.clone(), service.clone(), stamp.clone(), name.clone());
            std::thread::spawn(move || {
                let handler = move |request: &Envelope| handle(&name, request);
                if let Err(error) = mdp::serve(&context, &endpoint, &service, &stamp, &handler, &|| false) {
                    eprintln!("correio-echo: {error}");
                }
            })
        })
        .collect();
    println!("ready");
    for worker in workers {
        let _ = worker.join();
    }
    ExitCode::FAILURE // the workers only return on an error they printed
}
