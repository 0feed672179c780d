"""Identity against a real TypeScript server in password mode: register, log in with a password, a
token on every request, refresh and logout; and every token attack answered UNAUTHENTICATED (a
body user other than the token's subject: FORBIDDEN). The tokens are forged with PyJWT."""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any, Iterator

import jwt
import pytest

from correio import ChatClient, CorreioError, MdpClient

from .cluster import AUDIENCE, ISSUER, Cluster, SigningKey, start_cluster

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    started = start_cluster(tmp_path_factory.mktemp("identity"))
    try:
        yield started
    finally:
        started.stop()


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def b64url(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode("ascii")


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload of a token, read without checking it (only the servers hold the keys)."""
    return jwt.decode(token, options={"verify_signature": False})


async def registered(cluster: Cluster, context, user: str) -> ChatClient:
    chat = ChatClient(cluster.broker, None, user, context=context, retries=0, timeout=10.0)
    chat.requests.connect()
    await chat.register(PASSWORD)
    await chat.login(PASSWORD)
    return chat


async def code_of(call) -> str:
    with pytest.raises(CorreioError) as raised:
        await call
    return raised.value.code


def test_register_login_and_act_with_the_token(cluster, context, run) -> None:
    async def scenario() -> None:
        user = unique("ana")
        chat = ChatClient(cluster.broker, None, user, context=context, timeout=10.0)
        async with chat:
            assert (await chat.register(PASSWORD))["user"] == user
            assert await code_of(chat.register(PASSWORD)) == "CONFLICT"
            assert await code_of(chat.login("wrong password")) == "UNAUTHENTICATED"
            # Without a token, a password-mode server serves nobody, whatever the body says.
            assert await code_of(chat.create_channel("sala")) == "UNAUTHENTICATED"

            login = await chat.login(PASSWORD)
            assert login["user"] == user and chat.tokens is not None and chat.tokens.access == login["token"]
            claims = unverified_claims(login["token"])
            assert claims["sub"] == user and claims["iss"] == ISSUER and claims["aud"] == AUDIENCE and claims["use"] == "access"
            assert claims["exp"] * 1000 == pytest.approx(login["expires_at"], abs=1000)

            channel = unique("sala")
            created = await chat.create_channel(channel)  # no body user: the server takes it from the token
            assert created["created_by"] == user
            assert (await chat.publish(channel, "olá"))["channel"] == channel
            messages = (await chat.history(channel))["messages"]
            assert [(m["user"], m["text"]) for m in messages] == [(user, "olá")]
            assert user in [u["user"] for u in (await chat.users(limit=500))["users"]]

    run(scenario())


def test_refresh_rotates_and_logout_revokes(cluster, context, run) -> None:
    async def scenario() -> None:
        chat = await registered(cluster, context, unique("bia"))
        try:
            first = chat.tokens
            # A margin longer than the token's life makes every request refresh first.
            chat.refresh_margin = 24 * 3600
            await chat.channels()
            assert chat.tokens is not None and chat.tokens.access != first.access and chat.tokens.refresh != first.refresh
            chat.refresh_margin = 60
            # An access token is not a refresh token.
            assert await code_of(chat.requests.call("chat", "chat.refresh.request", {"refresh_token": chat.tokens.access})) == "UNAUTHENTICATED"

            old = chat.tokens
            logout = await chat.logout()
            assert logout["user"] == chat.user and chat.tokens is None
            for token in (old.access, first.access):
                assert await code_of(chat.requests.call("chat", "chat.channels.request", {}, auth=token)) == "UNAUTHENTICATED"
            for refresh in (old.refresh, first.refresh):
                assert await code_of(chat.requests.call("chat", "chat.refresh.request", {"refresh_token": refresh})) == "UNAUTHENTICATED"
            # Logging in again works: the logout revoked only the tokens issued before it.
            await chat.login(PASSWORD)
            await chat.channels()
        finally:
            await chat.close()

    run(scenario())


def test_password_change_revokes_older_tokens(cluster, context, run) -> None:
    async def scenario() -> None:
        chat = await registered(cluster, context, unique("caio"))
        try:
            old = chat.tokens
            assert await code_of(chat.change_password("not the password", "brand new password")) == "UNAUTHENTICATED"
            chat.tokens = old
            await chat.change_password(PASSWORD, "brand new password")
            assert await code_of(chat.requests.call("chat", "chat.channels.request", {}, auth=old.access)) == "UNAUTHENTICATED"
            assert await code_of(chat.login(PASSWORD)) == "UNAUTHENTICATED"
            await chat.login("brand new password")
            await chat.channels()
        finally:
            await chat.close()

    run(scenario())


def attacks(cluster: Cluster, token: str, refresh_token: str) -> dict[str, tuple[str, str]]:
    """Hostile variants of a valid access token, each differing from it in one respect, with the
    failed check a server names (the error's ``data.reason``)."""
    claims = unverified_claims(token)
    header, payload, signature = token.split(".")
    server = cluster.key
    foreign = SigningKey.generate("foreign")
    hmac_secret = server.public_bytes()  # key confusion: the public key's bytes as an HMAC secret
    none_header = b64url(json.dumps({"alg": "none", "kid": server.kid, "typ": "JWT"}).encode())
    return {
        "wrong key": (foreign.sign(claims, kid=server.kid), "bad_signature"),
        "unknown key id": (foreign.sign(claims), "unknown_key"),
        "expired": (server.sign({**claims, "iat": claims["iat"] - 7200, "exp": int(time.time()) - 3600}), "expired"),
        "tampered payload": (f"{header}.{b64url(json.dumps({**claims, 'sub': claims['sub'] + 'x'}).encode())}.{signature}", "bad_signature"),
        "tampered signature": (f"{header}.{payload}.{('B' if signature[0] == 'A' else 'A') + signature[1:]}", "bad_signature"),
        "alg none": (f"{none_header}.{payload}.", "algorithm"),
        "HS256 with the public key": (jwt.encode(claims, hmac_secret, algorithm="HS256", headers={"kid": server.kid}), "algorithm"),
        "wrong audience": (server.sign({**claims, "aud": "someone-else"}), "wrong_audience"),
        "wrong issuer": (server.sign({**claims, "iss": "evil"}), "wrong_issuer"),
        "refresh token as access token": (refresh_token, "wrong_use"),
        "re-signed as refresh": (server.sign({**claims, "use": "refresh"}), "wrong_use"),
    }


def test_token_attacks_are_unauthenticated(cluster, context, run) -> None:
    async def scenario() -> None:
        chat = await registered(cluster, context, unique("dora"))
        channel = unique("alvo")
        try:
            await chat.create_channel(channel)
            token, refresh = chat.tokens.access, chat.tokens.refresh
            # The forging is sound: the same claims re-signed with the cluster's key are accepted.
            resigned = cluster.key.sign(unverified_claims(token))
            await chat.requests.call("chat", "chat.publish.request", {"channel": channel, "text": "re-signed"}, auth=resigned)

            answers, expected = {}, {}
            for name, (forged, reason) in attacks(cluster, token, refresh).items():
                with pytest.raises(CorreioError) as raised:
                    await chat.requests.call("chat", "chat.publish.request", {"channel": channel, "text": name}, auth=forged)
                answers[name] = (raised.value.code, raised.value.retryable, (raised.value.data or {}).get("reason"))
                expected[name] = ("UNAUTHENTICATED", False, reason)
            assert answers == expected
            # None of them published anything.
            assert [m["text"] for m in (await chat.history(channel))["messages"]] == ["re-signed"]
        finally:
            await chat.close()

    run(scenario())


def test_body_user_other_than_the_token_subject_is_forbidden(cluster, context, run) -> None:
    async def scenario() -> None:
        chat = await registered(cluster, context, unique("eva"))
        try:
            channel = unique("sala")
            await chat.create_channel(channel)
            token = chat.tokens.access
            impostor = {"user": "someone-else", "channel": channel, "text": "not me"}
            assert await code_of(chat.requests.call("chat", "chat.publish.request", impostor, auth=token)) == "FORBIDDEN"
            # The same user named in the body is fine.
            mine = {"user": chat.user, "channel": channel, "text": "me"}
            assert (await chat.requests.call("chat", "chat.publish.request", mine, auth=token))["channel"] == channel
        finally:
            await chat.close()

    run(scenario())
