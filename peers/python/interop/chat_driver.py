"""A scriptable chat session in Python, for the interoperability tests (tools/interop).

    python -m interop.chat_driver --broker tcp://127.0.0.1:5555 --proxy tcp://127.0.0.1:5571 --user ana

Speaks the same JSON lines as the Go command peers/go/cmd/correio-chat (its doc comment is the
reference): ``{"ready": true, "user", "from", "lc"}`` once connected; each command line
``{"n": 1, "op": "publish", "channel": "general", "text": "hi"}`` is answered in order with
``{"n", "ok": true, "result", "lc"}`` or ``{"n", "ok": false, "error": {"code", "message",
"retryable"}, "lc"}``; live events come in between as ``{"event": "publication" | "direct",
"topic", "publisher", "seq", "message", "lc"}`` and ``{"event": "gap", "topic", "publisher",
"first", "last", "restarted", "lc"}``. The end of stdin, or ``{"op": "quit"}``, ends the session.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from typing import Any

from correio import CHAT_SERVICE, ChatClient, CorreioError, Gap, broker_service

from .lines import read_lines, write

log = logging.getLogger("chat_driver")

#: The event type each chat topic namespace carries (FRAMES.md section 4.1).
_EVENT_OF_NAMESPACE = {"chan": ("chat.publication", "publication"), "user": ("chat.direct", "direct")}


async def forward_events(chat: ChatClient) -> None:
    async for delivery in chat.events():
        if isinstance(delivery, Gap):
            write({"event": "gap", "topic": delivery.topic, "publisher": delivery.publisher, "first": delivery.first,
                   "last": delivery.last, "restarted": delivery.restarted, "lc": chat.lc})
            continue
        expected = _EVENT_OF_NAMESPACE.get(delivery.topic.split("/", 1)[0])
        if expected is None or delivery.envelope["type"] != expected[0]:
            log.warning("dropping %s received on %s", delivery.envelope["type"], delivery.topic)
            continue
        write({"event": expected[1], "topic": delivery.topic, "publisher": delivery.publisher, "seq": delivery.seq,
               "message": delivery.envelope["body"], "lc": chat.lc})


async def execute(chat: ChatClient, command: dict[str, Any]) -> Any:
    op = command.get("op")
    page = {key: command[key] for key in ("limit", "after", "before") if key in command}
    if op == "register":
        return await chat.register(command["password"])
    if op == "login":
        return await chat.login(command.get("password"))  # no password: servers in open mode
    if op == "refresh":
        return await chat.refresh()
    if op == "logout":
        return await chat.logout()
    if op == "change_password":
        return await chat.change_password(command["password"], command["new_password"])
    if op == "users":
        return await chat.users(**page)
    if op == "channels":
        return await chat.channels(**page)
    if op == "create_channel":
        return await chat.create_channel(command["channel"])
    if op == "join":
        chat.join(command["channel"])
        return {}
    if op == "leave":
        chat.leave(command["channel"])
        return {}
    if op == "publish":
        return await chat.publish(command["channel"], command["text"])
    if op == "direct":
        return await chat.direct(command["to"], command["text"])
    if op == "history":
        return await chat.history(command["channel"], **page)
    if op == "conversation":
        return await chat.conversation(command["peer"], **page)
    if op == "call":
        body = {"action": command["action"], **({"params": command["params"]} if "params" in command else {})}
        return await chat.requests.call(broker_service(command["action"]), "service.call.request", body)
    if op == "exists":
        return {"exists": await chat.requests.service_exists(command["service"])}
    if op == "lc":
        return {"lc": chat.lc}
    raise CorreioError("BAD_REQUEST", f"unknown op {op!r}")


async def run(args: argparse.Namespace) -> None:
    async with ChatClient(args.broker, args.proxy or None, args.user, service=args.service, timeout=args.timeout, retries=args.retries) as chat:
        write({"ready": True, "user": chat.user, "from": chat.requests.stamp.sender, "lc": chat.lc})
        events = asyncio.get_running_loop().create_task(forward_events(chat)) if args.proxy else None
        try:
            async for line in read_lines():
                try:
                    command = json.loads(line)
                except json.JSONDecodeError as error:
                    write({"n": None, "ok": False, "error": CorreioError("BAD_REQUEST", f"not a command line: {error}").to_wire(), "lc": chat.lc})
                    continue
                if command.get("op") == "quit":
                    break
                try:
                    result = await execute(chat, command)
                except CorreioError as error:
                    write({"n": command.get("n"), "ok": False, "error": error.to_wire(), "lc": chat.lc})
                except (KeyError, TypeError, ValueError) as error:
                    # A command missing a field or carrying a bad one: the driver's caller is wrong.
                    write({"n": command.get("n"), "ok": False, "error": CorreioError("BAD_REQUEST", repr(error)).to_wire(), "lc": chat.lc})
                else:
                    write({"n": command.get("n"), "ok": True, "result": result, "lc": chat.lc})
        finally:
            if events is not None:
                events.cancel()
                await asyncio.gather(events, return_exceptions=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", default="tcp://127.0.0.1:5555", help="the broker's MDP endpoint")
    parser.add_argument("--proxy", default="tcp://127.0.0.1:5571", help="the proxy's subscriber (XPUB) endpoint; '' for none")
    parser.add_argument("--user", required=True, help="the user this session acts as")
    parser.add_argument("--service", default=CHAT_SERVICE, help="the broker service of chat requests: chat or srv.<id>")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds one request attempt waits")
    parser.add_argument("--retries", type=int, default=1, help="further attempts with the same request id after a time-out")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
