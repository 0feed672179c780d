"""An XSUB/XPUB proxy (what zmq_proxy does) on asyncio, for pub/sub tests."""

from __future__ import annotations

import asyncio

import zmq
import zmq.asyncio


class MiniProxy:
    def __init__(self, context: zmq.asyncio.Context) -> None:
        self.xsub = context.socket(zmq.XSUB)
        self.xpub = context.socket(zmq.XPUB)
        for socket in (self.xsub, self.xpub):
            socket.setsockopt(zmq.LINGER, 0)
            socket.bind("tcp://127.0.0.1:*")
        self.publishers = self.xsub.getsockopt_string(zmq.LAST_ENDPOINT)
        self.subscribers = self.xpub.getsockopt_string(zmq.LAST_ENDPOINT)
        # Every (un)subscription message handed to the publishers' side, in order: a test waits on it.
        self.forwarded_subscriptions: list[bytes] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> "MiniProxy":
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._forward(self.xsub, self.xpub)),
            loop.create_task(self._forward(self.xpub, self.xsub, self.forwarded_subscriptions)),
        ]
        return self

    async def __aexit__(self, *_exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.xsub.close(linger=0)
        self.xpub.close(linger=0)

    @staticmethod
    async def _forward(source: zmq.asyncio.Socket, target: zmq.asyncio.Socket, record: list[bytes] | None = None) -> None:
        while True:
            frames = await source.recv_multipart()
            await target.send_multipart(frames)
            if record is not None:
                record.append(frames[0])
