"""Packed MDP headers (FRAMES.md 1.12): exact bytes, parsing both framings, and a worker and client
speaking packed to scripted ROUTERs."""

from __future__ import annotations

import asyncio

import pytest
import zmq

from correio import MdpClient, MdpWorker, Stamp, decode_message, encode_message, mdp

from .test_worker import login_handler, scripted_router

CLIENT_ADDRESS = bytes.fromhex("006b8b4567")


def test_builders_pack_header_command_and_service_or_address_into_one_frame() -> None:
    assert mdp.client_request("chat", b"b", "packed") == [bytes.fromhex("4d44504330320163686174"), b"b"]
    assert mdp.worker_ready("chat", "packed") == [bytes.fromhex("4d44505730320163686174")]
    assert mdp.worker_final(CLIENT_ADDRESS, b"b", "packed") == [bytes.fromhex("4d4450573032" "04" "006b8b4567"), b"b"]
    assert mdp.worker_heartbeat("packed") == [bytes.fromhex("4d445057303205")]
    assert mdp.worker_disconnect("packed") == [bytes.fromhex("4d445057303206")]
    assert mdp.client_request("chat", b"b") == [b"MDPC02", b"\x01", b"chat", b"b"]  # classic stays the default


@pytest.mark.parametrize("framing", ["classic", "packed"])
def test_parsers_read_what_the_builders_write(framing: mdp.Framing) -> None:
    request = mdp.parse_worker_command(
        [mdp.WORKER + mdp.WORKER_REQUEST + CLIENT_ADDRESS, b"body"] if framing == "packed" else [mdp.WORKER, mdp.WORKER_REQUEST, CLIENT_ADDRESS, b"", b"body"]
    )
    assert (request.command, request.client, request.body, request.framing) == (mdp.WORKER_REQUEST, CLIENT_ADDRESS, (b"body",), framing)
    assert mdp.parse_worker_command(mdp.worker_heartbeat(framing)).framing == framing
    reply = mdp.parse_client_reply(
        [mdp.CLIENT + mdp.FINAL + b"chat", b"env"] if framing == "packed" else [mdp.CLIENT, mdp.FINAL, b"chat", b"env"]
    )
    assert (reply.final, reply.service, reply.body) == (True, "chat", [b"env"])


@pytest.mark.parametrize(
    "frames",
    [
        [mdp.WORKER + mdp.WORKER_REQUEST],  # no client address
        [mdp.WORKER + mdp.WORKER_REQUEST + b"c" * 256, b"body"],  # address over 255 bytes
        [mdp.WORKER + mdp.HEARTBEAT + b"tail"],  # HEARTBEAT with a tail
        [mdp.WORKER + mdp.DISCONNECT, b"extra"],  # DISCONNECT with a frame after it
        [mdp.WORKER + b"\x42c", b"body"],  # unknown command
        [mdp.WORKER + mdp.READY + b"chat"],  # READY sent to a worker
    ],
)
def test_malformed_packed_worker_commands_are_frame_errors(frames: list[bytes]) -> None:
    with pytest.raises(mdp.FrameError):
        mdp.parse_worker_command(frames)


@pytest.mark.parametrize(
    "frames",
    [
        [mdp.CLIENT + mdp.FINAL + b"chat"],  # no body
        [mdp.CLIENT + b"\x09chat", b"env"],  # unknown command
        [mdp.CLIENT + mdp.REQUEST + b"chat", b"env"],  # a REQUEST sent to a client
        [mdp.CLIENT + mdp.FINAL + b"bad service", b"env"],  # invalid service name
        [mdp.CLIENT + mdp.FINAL, b"env"],  # no service at all
    ],
)
def test_malformed_packed_client_replies_are_frame_errors(frames: list[bytes]) -> None:
    with pytest.raises(mdp.FrameError):
        mdp.parse_client_reply(frames)


def test_the_environment_chooses_the_default_framing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORREIO_MDP_FRAMING", "packed")
    assert mdp.default_framing() == "packed"
    monkeypatch.setenv("CORREIO_MDP_FRAMING", "compact")
    with pytest.raises(ValueError, match="CORREIO_MDP_FRAMING must be packed or classic"):
        mdp.default_framing()
    monkeypatch.delenv("CORREIO_MDP_FRAMING")
    assert mdp.default_framing() == "classic"


async def next_packed(router: zmq.asyncio.Socket, header: bytes, command: bytes, within: float = 5.0) -> list[bytes]:
    """Receives until a packed message of ``header`` and ``command``, skipping others (heartbeats)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        frames = await asyncio.wait_for(router.recv_multipart(), max(0.0, deadline - asyncio.get_running_loop().time()))
        if frames[1][:7] == header + command:
            return frames


def test_a_packed_worker_registers_beats_and_answers_each_request_in_its_framing(context, run) -> None:
    async def scenario() -> None:
        router, endpoint = scripted_router(context)
        async with MdpWorker(endpoint, "chat", login_handler, context=context, heartbeat=0.1, framing="packed"):
            identity, ready = await asyncio.wait_for(router.recv_multipart(), 5)
            assert ready == mdp.WORKER + mdp.READY + b"chat"
            assert (await next_packed(router, mdp.WORKER, mdp.HEARTBEAT))[1:] == [mdp.WORKER + mdp.HEARTBEAT]
            request = Stamp("cli-1").envelope("chat.login.request", {"user": "ann"})
            await router.send_multipart([identity, mdp.WORKER + mdp.WORKER_REQUEST + CLIENT_ADDRESS, encode_message(request)])
            final = await next_packed(router, mdp.WORKER, mdp.WORKER_FINAL)
            assert final[1] == mdp.WORKER + mdp.WORKER_FINAL + CLIENT_ADDRESS
            assert decode_message(final[2])["id"] == request["id"]
            # A classic REQUEST on the same connection is answered classic.
            classic = Stamp("cli-2").envelope("chat.login.request", {"user": "bob"})
            await router.send_multipart([identity, mdp.WORKER, mdp.WORKER_REQUEST, CLIENT_ADDRESS, b"", encode_message(classic)])
            while (frames := await asyncio.wait_for(router.recv_multipart(), 5))[1] != mdp.WORKER:
                pass
            assert frames[1:4] == [mdp.WORKER, mdp.WORKER_FINAL, CLIENT_ADDRESS]
            assert decode_message(frames[5])["id"] == classic["id"]
        router.close(linger=0)

    run(scenario())


def test_a_packed_client_sends_packed_and_takes_replies_in_either_framing(context, run) -> None:
    async def scenario() -> None:
        router, endpoint = scripted_router(context)
        async with MdpClient(endpoint, context=context, framing="packed") as client:
            pending = asyncio.ensure_future(client.request("chat", "chat.login.request", {"user": "ann"}))
            identity, header, body = await asyncio.wait_for(router.recv_multipart(), 5)
            assert header == mdp.CLIENT + mdp.REQUEST + b"chat"
            request = decode_message(body)
            reply = Stamp("srv-1").envelope("chat.login.reply", {"user": "ann", "first_seen": 1, "last_seen": 2, "created": True}) | {"id": request["id"]}
            await router.send_multipart([identity, mdp.CLIENT + mdp.FINAL + b"chat", encode_message(reply)])
            assert (await asyncio.wait_for(pending, 5))["id"] == request["id"]
        router.close(linger=0)

    run(scenario())
