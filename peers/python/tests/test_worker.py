"""MdpWorker against a scripted ROUTER (frames, heartbeats, reconnects) and behind MiniBroker."""

from __future__ import annotations

import asyncio
import logging

import pytest
import zmq

from correio import ActionHandler, CorreioError, LamportClock, MdpClient, MdpWorker, Stamp, decode_message, encode, encode_message, mdp

from .minibroker import MiniBroker


def login_handler(request: dict) -> dict:
    if request["body"]["user"] == "mallory":
        raise CorreioError("BAD_REQUEST", "mallory may not log in")
    return {"user": request["body"]["user"], "first_seen": 1, "last_seen": 2, "created": True}


async def expect(router, *prefix: bytes, within: float = 5.0) -> list[bytes]:
    """Receives until a message whose frames after the identity start with ``prefix``."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise AssertionError(f"no {prefix!r} within {within}s")
        frames = await asyncio.wait_for(router.recv_multipart(), remaining)
        if frames[1 : 1 + len(prefix)] == list(prefix):
            return frames


def scripted_router(context) -> tuple[zmq.asyncio.Socket, str]:
    router = context.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.bind("tcp://127.0.0.1:*")
    return router, router.getsockopt_string(zmq.LAST_ENDPOINT)


def test_ready_request_final_with_the_same_id(context, run) -> None:
    async def scenario() -> None:
        router, endpoint = scripted_router(context)
        async with MdpWorker(endpoint, "chat", login_handler, context=context, heartbeat=0.2):
            identity, *_ = await expect(router, mdp.WORKER, mdp.READY, b"chat")
            request = Stamp("cli-1").envelope("chat.login.request", {"user": "ann"}) | {"lc": 40}
            await router.send_multipart([identity, mdp.WORKER, mdp.WORKER_REQUEST, b"\x00client", b"", encode_message(request)])
            frames = await expect(router, mdp.WORKER, mdp.WORKER_FINAL)
            assert frames[3:5] == [b"\x00client", b""]
            reply = decode_message(frames[5])
            assert (reply["type"], reply["id"], reply["body"]["user"]) == ("chat.login.reply", request["id"], "ann")
            assert reply["lc"] > 40  # merged the request's clock before ticking
        router.close(linger=0)

    run(scenario())


@pytest.mark.parametrize(
    ("body", "code", "same_id"),
    [
        ("not msgpack", "DECODE", False),
        ("no body", "DECODE", False),
        ("two frames", "DECODE", True),
        ("unknown type", "UNKNOWN_TYPE", True),
        ("invalid body", "VALIDATION", True),
        ("v2", "UNSUPPORTED_VERSION", True),
        ("reply type", "BAD_REQUEST", True),
        ("refused", "BAD_REQUEST", True),
    ],
)
def test_every_bad_request_gets_an_error_final(context, run, body, code, same_id) -> None:
    async def scenario() -> None:
        router, endpoint = scripted_router(context)
        good = Stamp("cli-1").envelope("chat.login.request", {"user": "ann"})
        frames = {
            "not msgpack": [b"\xc1"],
            "no body": [],
            "two frames": [encode_message(good), b"extra"],
            "unknown type": [encode(good | {"type": "chat.nope.request"})],
            "invalid body": [encode(good | {"body": {"user": 7}})],
            "v2": [encode(good | {"v": 2})],
            "reply type": [encode_message(Stamp("x").envelope("chat.login.reply", {"user": "a", "first_seen": 1, "last_seen": 1, "created": True}, good["id"]))],
            "refused": [encode_message(good | {"body": {"user": "mallory"}})],
        }[body]
        async with MdpWorker(endpoint, "chat", login_handler, context=context, heartbeat=0.2):
            identity, *_ = await expect(router, mdp.WORKER, mdp.READY)
            await router.send_multipart([identity, mdp.WORKER, mdp.WORKER_REQUEST, b"\x00c", b"", *frames])
            reply = decode_message((await expect(router, mdp.WORKER, mdp.WORKER_FINAL))[5])
            assert reply["type"] == "error" and reply["body"]["code"] == code
            assert reply["id"] == (good["id"] if same_id else "0")
        router.close(linger=0)

    run(scenario())


def test_a_request_whose_lc_is_beyond_the_bounds_is_served_and_merged_only_up_to_them(context, run, caplog) -> None:
    async def scenario() -> None:
        router, endpoint = scripted_router(context)
        stamp = Stamp("py-bounded")
        async with MdpWorker(endpoint, "chat", login_handler, context=context, heartbeat=0.2, stamp=stamp):
            identity, *_ = await expect(router, mdp.WORKER, mdp.READY)
            hostile = Stamp("attacker").envelope("chat.login.request", {"user": "ann"}) | {"lc": 2**53 - 2}
            await router.send_multipart([identity, mdp.WORKER, mdp.WORKER_REQUEST, b"\x00c", b"", encode_message(hostile)])
            reply = decode_message((await expect(router, mdp.WORKER, mdp.WORKER_FINAL))[5])
            assert reply["type"] == "chat.login.reply" and reply["id"] == hostile["id"]  # served, not refused
            # Merged up to the bound (the free jump 2^16 plus the 2^32 budget): an integer, far from exhaustion.
            assert isinstance(reply["lc"], int) and 2**32 < reply["lc"] <= 2**32 + 2**17
            assert (stamp.clock.clamped, stamp.clock.clamped_requests) == (1, 1)
            honest = Stamp("cli-1").envelope("chat.login.request", {"user": "ann"})
            await router.send_multipart([identity, mdp.WORKER, mdp.WORKER_REQUEST, b"\x00c", b"", encode_message(honest)])
            answer = decode_message((await expect(router, mdp.WORKER, mdp.WORKER_FINAL))[5])
            assert answer["type"] == "chat.login.reply" and answer["lc"] > reply["lc"] and stamp.clock.clamped == 1
        router.close(linger=0)

    with caplog.at_level(logging.WARNING, logger="correio.worker"):
        run(scenario())
    assert [record for record in caplog.records if "beyond the Lamport bounds" in record.getMessage()]


def test_an_exhausted_clock_answers_unavailable_and_keeps_answering(context, run) -> None:
    async def scenario() -> None:
        router, endpoint = scripted_router(context)
        stamp = Stamp("py-full", clock=LamportClock(2**53 - 1))
        async with MdpWorker(endpoint, "chat", login_handler, context=context, heartbeat=0.2, stamp=stamp):
            identity, *_ = await expect(router, mdp.WORKER, mdp.READY)
            for _ in range(2):
                request = Stamp("cli-1").envelope("chat.login.request", {"user": "ann"})
                await router.send_multipart([identity, mdp.WORKER, mdp.WORKER_REQUEST, b"\x00c", b"", encode_message(request)])
                reply = decode_message((await expect(router, mdp.WORKER, mdp.WORKER_FINAL))[5])
                assert reply["body"]["code"] == "UNAVAILABLE" and reply["body"]["data"]["reason"] == "lamport_exhausted"
                assert reply["lc"] == 2**53 - 1
        router.close(linger=0)

    run(scenario())


class BrokenStamp(Stamp):
    """A stamp whose error envelopes cannot be built while ``broken``: the error path itself raises."""

    broken = False

    def error(self, request_id, error):
        if self.broken:
            raise RuntimeError("the error path failed")
        return super().error(request_id, error)


def test_a_failing_error_path_is_contained_and_the_worker_keeps_serving(context, run) -> None:
    async def scenario() -> None:
        router, endpoint = scripted_router(context)
        stamp = BrokenStamp("py-broken")
        async with MdpWorker(endpoint, "chat", login_handler, context=context, heartbeat=0.2, stamp=stamp) as worker:
            identity, *_ = await expect(router, mdp.WORKER, mdp.READY)
            stamp.broken = True
            mallory = Stamp("cli-1").envelope("chat.login.request", {"user": "mallory"})  # the handler raises
            await router.send_multipart([identity, mdp.WORKER, mdp.WORKER_REQUEST, b"\x00c", b"", encode_message(mallory)])
            for _ in range(500):
                if worker.reply_failures == 1:
                    break
                await asyncio.sleep(0.01)
            assert worker.reply_failures == 1
            stamp.broken = False
            honest = Stamp("cli-1").envelope("chat.login.request", {"user": "ann"})
            await router.send_multipart([identity, mdp.WORKER, mdp.WORKER_REQUEST, b"\x00c", b"", encode_message(honest)])
            reply = decode_message((await expect(router, mdp.WORKER, mdp.WORKER_FINAL))[5])
            assert (reply["type"], reply["id"]) == ("chat.login.reply", honest["id"])
        router.close(linger=0)

    run(scenario())


def test_heartbeats_keep_flowing_while_a_request_is_served(context, run) -> None:
    async def scenario() -> None:
        release = asyncio.Event()

        async def slow(request: dict) -> dict:
            await release.wait()
            return login_handler(request)

        router, endpoint = scripted_router(context)
        async with MdpWorker(endpoint, "chat", slow, context=context, heartbeat=0.1):
            identity, *_ = await expect(router, mdp.WORKER, mdp.READY)
            request = Stamp("cli-1").envelope("chat.login.request", {"user": "ann"})
            await router.send_multipart([identity, mdp.WORKER, mdp.WORKER_REQUEST, b"\x00c", b"", encode_message(request)])
            for _ in range(3):
                await expect(router, mdp.WORKER, mdp.HEARTBEAT, within=2)
                await router.send_multipart([identity, mdp.WORKER, mdp.HEARTBEAT])
            release.set()
            reply = decode_message((await expect(router, mdp.WORKER, mdp.WORKER_FINAL))[5])
            assert reply["id"] == request["id"]
        router.close(linger=0)

    run(scenario())


def test_disconnect_and_silence_both_lead_to_a_new_ready(context, run) -> None:
    async def scenario() -> None:
        router, endpoint = scripted_router(context)
        worker = MdpWorker(endpoint, "chat", login_handler, context=context, heartbeat=0.1, liveness=3, reconnect_delay=0.05)
        async with worker:
            first, *_ = await expect(router, mdp.WORKER, mdp.READY)
            await router.send_multipart([first, mdp.WORKER, mdp.DISCONNECT])
            second, *_ = await expect(router, mdp.WORKER, mdp.READY)
            assert second != first  # a new socket, so a new identity
            # Now say nothing: after 0.3 s of silence the worker gives up on us and reconnects.
            third, *_ = await expect(router, mdp.WORKER, mdp.READY, within=5)
            assert third != second and worker.connects == 3
        # On stop the worker says DISCONNECT.
        await expect(router, mdp.WORKER, mdp.DISCONNECT)
        router.close(linger=0)

    run(scenario())


def test_client_and_workers_through_a_broker(context, run) -> None:
    async def scenario() -> None:
        actions = ActionHandler({"math.add": lambda params, meta: sum(params), "math.fail": lambda params, meta: 1 / 0})
        async with MiniBroker(context) as broker:
            async with MdpWorker(broker.endpoint, actions.service, actions, context=context, heartbeat=0.2, concurrency=2) as worker:
                async with MdpClient(broker.endpoint, context=context, timeout=10) as client:
                    calls = [client.call("svc.math", "service.call.request", {"action": "math.add", "params": [i, i]}) for i in range(20)]
                    results = await asyncio.gather(*calls)
                    assert [r["result"] for r in results] == [2 * i for i in range(20)]
                    assert worker.served == 20 and broker.readies == [b"svc.math", b"svc.math"]
                    with pytest.raises(CorreioError) as raised:
                        await client.call("svc.math", "service.call.request", {"action": "math.nope"})
                    assert raised.value.code == "NOT_FOUND"
                    with pytest.raises(CorreioError) as raised:
                        await client.call("svc.math", "service.call.request", {"action": "math.fail"})
                    assert raised.value.code == "INTERNAL" and raised.value.retryable
                    assert await client.service_exists("svc.math")

    run(scenario())
