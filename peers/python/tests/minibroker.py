"""Just enough of an RFC 18 broker to route MDP/0.2 between the peer's clients and workers in tests.

It load-balances over idle workers per service, answers MMI, and echoes worker heartbeats; it
has no queue limits, deadlines or dead-worker policy (the TypeScript broker has those).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque

import zmq
import zmq.asyncio

from correio import mdp


class MiniBroker:
    def __init__(self, context: zmq.asyncio.Context) -> None:
        self.socket = context.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.bind("tcp://127.0.0.1:*")
        self.endpoint = self.socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self.idle: dict[bytes, deque[bytes]] = defaultdict(deque)
        self.queue: dict[bytes, deque[tuple[bytes, bytes]]] = defaultdict(deque)
        self.service_of: dict[bytes, bytes] = {}
        self.readies: list[bytes] = []
        self.heartbeats = 0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "MiniBroker":
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self.socket.close(linger=0)

    async def _run(self) -> None:
        while True:
            identity, header, command, *rest = await self.socket.recv_multipart()
            if header == mdp.CLIENT and command == mdp.REQUEST:
                await self._client_request(identity, rest[0], rest[1])
            elif header == mdp.WORKER:
                await self._worker_command(identity, command, rest)

    async def _client_request(self, client: bytes, service: bytes, body: bytes) -> None:
        if service == b"mmi.service":
            code = b"200" if self.idle.get(body) or body in self.service_of.values() else b"404"
            await self.socket.send_multipart([client, mdp.CLIENT, mdp.FINAL, service, code])
            return
        self.queue[service].append((client, body))
        await self._dispatch(service)

    async def _worker_command(self, worker: bytes, command: bytes, rest: list[bytes]) -> None:
        if command == mdp.READY:
            self.readies.append(rest[0])
            self.service_of[worker] = rest[0]
            self.idle[rest[0]].append(worker)
            await self._dispatch(rest[0])
        elif command == mdp.WORKER_FINAL:
            client, _empty, body = rest
            service = self.service_of[worker]
            await self.socket.send_multipart([client, mdp.CLIENT, mdp.FINAL, service, body])
            self.idle[service].append(worker)
            await self._dispatch(service)
        elif command == mdp.HEARTBEAT:
            self.heartbeats += 1
            await self.socket.send_multipart([worker, mdp.WORKER, mdp.HEARTBEAT])
        elif command == mdp.DISCONNECT:
            service = self.service_of.pop(worker, None)
            if service is not None and worker in self.idle[service]:
                self.idle[service].remove(worker)

    async def _dispatch(self, service: bytes) -> None:
        while self.queue[service] and self.idle[service]:
            client, body = self.queue[service].popleft()
            worker = self.idle[service].popleft()
            await self.socket.send_multipart([worker, mdp.WORKER, mdp.WORKER_REQUEST, client, b"", body])

    async def disconnect_all(self) -> None:
        """Sends DISCONNECT to every worker and forgets them (as after a broker restart)."""
        for worker in list(self.service_of):
            await self.socket.send_multipart([worker, mdp.WORKER, mdp.DISCONNECT])
        self.service_of.clear()
        self.idle.clear()
