"""MdpClient against a scripted ROUTER: matching by id, retries with the same id, errors, MMI."""

from __future__ import annotations

import asyncio

import pytest
import zmq

from correio import CorreioError, MdpClient, Stamp, decode_message, encode_message, mdp


def bound_router(context) -> tuple[zmq.asyncio.Socket, str]:
    router = context.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.bind("tcp://127.0.0.1:*")
    return router, router.getsockopt_string(zmq.LAST_ENDPOINT)


def reply_to(request: dict, body: dict, message_type: str = "chat.login.reply") -> bytes:
    return encode_message(Stamp("srv-test").envelope(message_type, body, request["id"]) | {"lc": request["lc"] + 5})


def login_reply(user: str) -> dict:
    return {"user": user, "first_seen": 1, "last_seen": 2, "created": False}


def test_replies_are_matched_by_id_not_by_order(context, run) -> None:
    async def scenario() -> None:
        router, endpoint = bound_router(context)
        async with MdpClient(endpoint, context=context, timeout=10) as client:
            calls = [asyncio.ensure_future(client.call("chat", "chat.login.request", {"user": user})) for user in ("ann", "bob", "cid")]
            received = []
            for _ in calls:
                identity, header, command, service, body = await router.recv_multipart()
                assert (header, command, service) == (mdp.CLIENT, mdp.REQUEST, b"chat")
                received.append(decode_message(body))
            # Answer in reverse order, with a stray reply (an id nobody waits for) first.
            stray = received[0] | {"id": "nobody-waits-for-this"}
            await router.send_multipart([identity, mdp.CLIENT, mdp.FINAL, b"chat", reply_to(stray, login_reply("zed"))])
            for request in reversed(received):
                await router.send_multipart([identity, mdp.CLIENT, mdp.PARTIAL, b"chat", reply_to(request, login_reply("partial"))])
                await router.send_multipart([identity, mdp.CLIENT, mdp.FINAL, b"chat", reply_to(request, login_reply(request["body"]["user"]))])
            results = await asyncio.gather(*calls)
            assert [r["user"] for r in results] == ["ann", "bob", "cid"]
            assert client.in_flight == 0
            # The Lamport clock merged the replies' clocks (request lc + 5).
            assert client.stamp.clock.value > max(r["lc"] for r in received) + 5
        router.close(linger=0)

    run(scenario())


def test_a_timed_out_request_is_retried_with_the_same_id(context, run) -> None:
    async def scenario() -> None:
        router, endpoint = bound_router(context)
        async with MdpClient(endpoint, context=context, timeout=0.3, retries=2) as client:
            call = asyncio.ensure_future(client.call("chat", "chat.login.request", {"user": "ann"}))
            first = decode_message((await router.recv_multipart())[-1])
            identity, *_, body = await router.recv_multipart()  # the retry, after one timeout
            retry = decode_message(body)
            assert retry["id"] == first["id"] and retry["lc"] > first["lc"]
            await router.send_multipart([identity, mdp.CLIENT, mdp.FINAL, b"chat", reply_to(retry, login_reply("ann"))])
            assert (await call)["user"] == "ann"
        router.close(linger=0)

    run(scenario())


def test_no_reply_at_all_is_timeout(context, run) -> None:
    async def scenario() -> None:
        router, endpoint = bound_router(context)
        async with MdpClient(endpoint, context=context, timeout=0.2, retries=1) as client:
            with pytest.raises(CorreioError) as raised:
                await client.call("chat", "chat.login.request", {"user": "ann"})
            assert raised.value.code == "TIMEOUT" and raised.value.retryable
            sent = [decode_message((await router.recv_multipart())[-1])["id"] for _ in range(2)]
            assert sent[0] == sent[1]
        router.close(linger=0)

    run(scenario())


def test_an_error_reply_raises_its_typed_error(context, run) -> None:
    async def scenario() -> None:
        router, endpoint = bound_router(context)
        async with MdpClient(endpoint, context=context, timeout=5) as client:
            call = asyncio.ensure_future(client.call("chatt", "chat.login.request", {"user": "ann"}))
            identity, *_, body = await router.recv_multipart()
            request = decode_message(body)
            error = CorreioError("UNKNOWN_SERVICE", "no worker has registered service chatt")
            await router.send_multipart([identity, mdp.CLIENT, mdp.FINAL, b"chatt", encode_message(Stamp("broker-1").error(request["id"], error))])
            with pytest.raises(CorreioError) as raised:
                await call
            assert raised.value.code == "UNKNOWN_SERVICE" and not raised.value.retryable
        router.close(linger=0)

    run(scenario())


def test_mmi_answers_in_order(context, run) -> None:
    async def scenario() -> None:
        router, endpoint = bound_router(context)
        async with MdpClient(endpoint, context=context, timeout=5) as client:
            asks = [asyncio.ensure_future(client.service_exists(name)) for name in ("chat", "nope")]
            for code in (b"200", b"404"):
                identity, header, command, service, name = await router.recv_multipart()
                assert (service, name) == (b"mmi.service", b"chat" if code == b"200" else b"nope")
                await router.send_multipart([identity, mdp.CLIENT, mdp.FINAL, b"mmi.service", code])
            assert await asyncio.gather(*asks) == [True, False]
        router.close(linger=0)

    run(scenario())


def test_a_body_that_breaks_the_schema_is_refused_before_sending(context, run) -> None:
    async def scenario() -> None:
        async with MdpClient("tcp://127.0.0.1:9", context=context) as client:
            with pytest.raises(CorreioError) as raised:
                await client.call("chat", "chat.login.request", {"user": "has space"})
            assert raised.value.code == "VALIDATION"
            with pytest.raises(ValueError):
                await client.call("chat", "chat.login.reply", {})

    run(scenario())
