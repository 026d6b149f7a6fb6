"""Webhook mode: only Telegram (which knows the secret) gets an update in; /healthz answers."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlmodel import select
from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from bot.rehearsal import Rehearsal
from bot.store.models import InboxUpdate
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
        await asyncio.wait_for(r.services.inbox.drain(), 5)
        assert r.server.sent(visitor.id) == []
        answer = await client.fetch(
            f"{base}/telegram", method="POST", body=update, headers={SECRET_HEADER: "s3cret-token"}
        )
        assert answer.code == 200  # stored in the inbox before this answer
        async with r.db.unit_of_work() as uow:
            stored = (await uow.orm.exec(select(InboxUpdate))).all()
        assert [u.update_id for u in stored] == [json.loads(update)["update_id"]]
        await asyncio.wait_for(r.services.inbox.drain(), 5)  # then handled from the inbox
        assert "/report" in (r.server.last(visitor.id).text or "")
        with pytest.raises(HTTPClientError) as unheard:  # no heartbeat written yet
            await client.fetch(f"{base}/healthz")
        assert unheard.value.code == 503
        deps = r.services.deps
        await deps.liveness.beat(deps.store, deps.clock.now())
        health = await client.fetch(f"{base}/healthz")
        assert json.loads(health.body) == {
            "status": "degraded", "database": "reachable", "telegram": "reachable",
            "clinicians": "no clinician on call",
        }
    finally:
        await r.app.stop()
        server.stop()
