"""The Celery side of the task-queue benchmark, as a child process (run by celery.ts in its venv).

--role producer: sends no-op tasks from N producer threads (each with its own pooled connection,
publisher confirms on, so a send returns once RabbitMQ has the persistent message); the producer
app has no result backend (it never waits for results, as the other systems' producers do not).
--role worker: a Celery worker (threads pool) whose results go to Redis; a task counts as done at
task_success, which Celery sends after the result is stored.

Speaks wire.ts's lines: JSON commands on stdin, reports on stdout behind "@bench ". Times are
microseconds of time.monotonic_ns (CLOCK_MONOTONIC, as Node's process.hrtime).
"""
import argparse
import json
import os
import signal
import sys
import threading
import time

import celery
from celery import Celery, signals
from kombu import Exchange, Queue

MARKER = "@bench "
parser = argparse.ArgumentParser()
parser.add_argument("--role", choices=["producer", "worker"], required=True)
parser.add_argument("--broker", required=True)
parser.add_argument("--backend", required=True)
parser.add_argument("--queue", required=True)
parser.add_argument("--concurrency", type=int, default=32)
parser.add_argument("--max-producers", type=int, default=100)
options = parser.parse_args()

# Reports go to the stdout we were given, whatever Celery does with sys.stdout.
report_out = os.fdopen(os.dup(1), "w", buffering=1)
report_lock = threading.Lock()


def report(message):
    with report_lock:
        report_out.write(MARKER + json.dumps(message) + "\n")


def now_us():
    return time.monotonic_ns() // 1000


app = Celery("bench", broker=options.broker)
app.conf.update(
    task_queues=[Queue(options.queue, Exchange(options.queue), routing_key=options.queue, durable=True)],
    task_default_queue=options.queue,
    task_default_exchange=options.queue,
    task_default_routing_key=options.queue,
    task_default_delivery_mode="persistent",
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    broker_transport_options={"confirm_publish": True},
    broker_pool_limit=options.max_producers,
    broker_connection_retry_on_startup=True,
    worker_redirect_stdouts=False,
    worker_hijack_root_logger=False,
)
if options.role == "worker":
    app.conf.result_backend = options.backend

state_lock = threading.Lock()
state = {"succeeded": 0, "failed": 0, "latencies": [], "expect": None}


@app.task(name="noop")
def noop(t):
    with state_lock:
        state["latencies"].append(now_us() - t)


def finished(ok):
    with state_lock:
        state["succeeded" if ok else "failed"] += 1
        expect = state["expect"]
        if expect is None or state["succeeded"] + state["failed"] < expect:
            return
        state["expect"] = None
        message = {"type": "completed", "succeeded": state["succeeded"], "failed": state["failed"], "lastDoneUs": now_us(), "latenciesUs": state["latencies"]}
    report(message)


@signals.task_success.connect
def on_success(**_):
    finished(True)


@signals.task_failure.connect
def on_failure(**_):
    finished(False)


@signals.worker_ready.connect
def on_ready(**_):
    report({"type": "ready", "version": celery.__version__})


def commands():
    """JSON commands from stdin until stop (or stdin closes)."""
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        if command["type"] == "stop":
            return
        yield command


def produce(jobs, producers):
    shares = [jobs // producers + (1 if p < jobs % producers else 0) for p in range(producers)]
    counts = [0] * producers
    errors = []
    start = threading.Barrier(producers + 1)

    def run(p):
        start.wait()
        for _ in range(shares[p]):
            try:
                noop.apply_async(args=(now_us(),))
                counts[p] += 1
            except Exception as error:  # noqa: BLE001 - reported, the run goes on
                errors.append(repr(error))

    threads = [threading.Thread(target=run, args=(p,), daemon=True) for p in range(producers)]
    for thread in threads:
        thread.start()
    first = now_us()
    start.wait()
    for thread in threads:
        thread.join()
    report({"type": "produced", "enqueued": sum(counts), "firstCallUs": first, "lastAckUs": now_us(), "errors": list(dict.fromkeys(errors))[:3]})


def producer():
    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=3)
    report({"type": "ready", "version": celery.__version__})
    for command in commands():
        try:
            produce(command["jobs"], command["producers"])
        except Exception as error:  # noqa: BLE001 - reported to the benchmark
            report({"type": "failed", "error": repr(error)})


def worker_control():
    for command in commands():
        with state_lock:
            state.update(succeeded=0, failed=0, latencies=[], expect=command["jobs"])
        report({"type": "expecting"})
    # Celery's cold shutdown: every job has finished by now. Its exit sometimes hangs for seconds
    # here (on its threads, it seems); every result is stored, so this daemon thread ends it then.
    os.kill(os.getpid(), signal.SIGQUIT)
    time.sleep(2)
    os._exit(0)


if options.role == "producer":
    producer()
else:
    threading.Thread(target=worker_control, daemon=True).start()
    app.worker_main(["worker", "--pool=threads", f"--concurrency={options.concurrency}", "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat", f"--queues={options.queue}"])
