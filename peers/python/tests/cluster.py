"""A real Correio cluster for the identity tests: the TypeScript broker, proxy, reference server
and chat servers, started by tools/interop/src/serveTopology.ts, with a key-set file this module
writes, so that the tests can sign tokens with the cluster's own key (and with others)."""

from __future__ import annotations

import json
import secrets
import select
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

REPO = Path(__file__).resolve().parents[3]
SERVE_TOPOLOGY = REPO / "tools" / "interop" / "src" / "serveTopology.ts"
#: tsx compiles every app on start, on two shared cores.
STARTUP_SECONDS = 240.0

#: The servers' defaults (--auth-issuer, --auth-audience).
ISSUER = "correio"
AUDIENCE = "correio"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: Ed25519PrivateKey

    @classmethod
    def generate(cls, prefix: str) -> "SigningKey":
        return cls(f"{prefix}-{secrets.token_hex(6)}", Ed25519PrivateKey.generate())

    def record(self) -> dict[str, Any]:
        """The key as an entry of a key-set file: { kid, created_at, jwk } (an Ed25519 private JWK)."""
        jwk = json.loads(OKPAlgorithm.to_jwk(self.private))
        return {"kid": self.kid, "created_at": time.time_ns() // 1_000_000, "jwk": {name: jwk[name] for name in ("kty", "crv", "x", "d")}}

    def sign(self, claims: dict[str, Any], kid: str | None = None) -> str:
        return jwt.encode(claims, self.private, algorithm="EdDSA", headers={"kid": kid or self.kid})

    def public_bytes(self) -> bytes:
        return self.private.public_key().public_bytes_raw()


@dataclass
class Cluster:
    broker: str
    proxy: str
    servers: list[str]
    key: SigningKey
    process: subprocess.Popen[str]
    #: The proxy's XSUB endpoint, where publishers connect (with ``proxy=True``).
    proxy_pub: str = ""

    def stop(self) -> None:
        """Ends the topology's input: it stops every app it started and exits (killed if it takes
        too long, which would leave its apps behind)."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_cluster(data_dir: Path, *, servers: int = 1, auth: str = "password", proxy: bool = False) -> Cluster:
    """Starts the topology in password (or open) mode with a fresh key set; returns once it is ready.
    With ``proxy`` it starts a pub/sub proxy too (``proxy_pub`` / ``proxy``: its XSUB / XPUB endpoints)."""
    key = SigningKey.generate("py-test")
    keys = data_dir / "auth-keys.json"
    keys.write_text(json.dumps({"keys": [key.record()]}))
    keys.chmod(0o600)
    command = ["node", "--import", "tsx", "--conditions=@correio/source", str(SERVE_TOPOLOGY),
               "--data-dir", str(data_dir), "--servers", str(servers), "--auth", auth, "--auth-keys", str(keys), *(["--proxy"] if proxy else [])]
    process = subprocess.Popen(command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    cluster = Cluster("", "", [], key, process)
    try:
        ready = _first_line(process, STARTUP_SECONDS)
    except BaseException:
        cluster.stop()  # the end of its input stops whatever it started
        raise
    cluster.broker, cluster.proxy, cluster.servers = ready["broker"], ready["proxy"]["subscribers"], ready["servers"]
    cluster.proxy_pub = ready["proxy"]["publishers"]
    return cluster


def _first_line(process: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    assert process.stdout is not None
    readable, _, _ = select.select([process.stdout], [], [], timeout)
    if not readable:
        raise TimeoutError(f"the topology printed no ready line within {timeout} s")
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"the topology exited with status {process.wait()} before it was ready (its stderr is above)")
    return json.loads(line)
