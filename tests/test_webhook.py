"""Webhook mode: only Telegram (which knows the secret) gets an update in; /healthz answers."""

from __future__ import annotations

import asyncio
import json

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from bot.rehearsal import Rehearsal
from bot.webhook import SECRET_HEADER, webhook_app


async def test_updates_need_the_secret_and_health_answers(rehearsal: Rehearsal) -> None:
    r = rehearsal
    server = HTTPServer(webhook_app(r.app, secret="s3cret-token", path="/telegram"))
    sockets = bind_sockets(0, "127.0.0.1")
    server.add_sockets(sockets)
    base = f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
    client = AsyncHTTPClient()
    await r.app.start()
    try:
        visitor = r.server.user("Visitor")
        update = json.dumps(visitor.say("/help"))
        for headers in ({}, {SECRET_HEADER: "wrong"}):
            with pytest.raises(HTTPClientError) as refused:
                await client.fetch(f"{base}/telegram", method="POST", body=update, headers=headers)
            assert refused.value.code == 403
        await asyncio.wait_for(r.app.update_queue.join(), 5)
        assert r.server.sent(visitor.id) == []
        answer = await client.fetch(
            f"{base}/telegram", method="POST", body=update, headers={SECRET_HEADER: "s3cret-token"}
        )
        assert answer.code == 200
        await asyncio.wait_for(r.app.update_queue.join(), 5)  # processed by the Application
        assert "/report" in (r.server.last(visitor.id).text or "")
        health = await client.fetch(f"{base}/healthz")
        assert json.loads(health.body) == {"status": "ok"}
    finally:
        await r.app.stop()
        server.stop()
