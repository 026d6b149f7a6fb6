"""Webhook mode: only Telegram (which knows the secret) gets an update in; /healthz and
/readyz answer on the same port."""

from __future__ import annotations

import asyncio
import json

import httpx
from sqlmodel import select

from bot.config import Settings
from bot.rehearsal import Rehearsal
from bot.store.migrate import current, head
from bot.store.models import InboxUpdate
from bot.webhook import SECRET_HEADER, webhook_app


async def test_updates_need_the_secret_and_health_answers(rehearsal: Rehearsal) -> None:
    r = rehearsal
    web = webhook_app(r.app, Settings(telegram_bot_token="1:x"), secret="s3cret-token",
                      path="/telegram")
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://bot")
    await r.app.start()
    try:
        visitor = r.server.user("Visitor")
        update = json.dumps(visitor.say("/help"))
        for headers in ({}, {SECRET_HEADER: "wrong"}):
            refused = await client.post("/telegram", content=update, headers=headers)
            assert refused.status_code == 403
        assert (await client.post("/telegram", content="not json",
                                  headers={SECRET_HEADER: "s3cret-token"})).status_code == 400
        await asyncio.wait_for(r.services.inbox.drain(), 5)
        assert r.server.sent(visitor.id) == []
        answer = await client.post("/telegram", content=update,
                                   headers={SECRET_HEADER: "s3cret-token"})
        assert answer.status_code == 200  # stored in the inbox before this answer
        async with r.db.unit_of_work() as uow:
            stored = (await uow.orm.exec(select(InboxUpdate))).all()
        assert [u.update_id for u in stored] == [json.loads(update)["update_id"]]
        await asyncio.wait_for(r.services.inbox.drain(), 5)  # then handled from the inbox
        assert "/report" in (r.server.last(visitor.id).text or "")
        alive = await client.get("/healthz")
        assert alive.status_code == 200
        assert alive.json()["status"] == "alive"
        unheard = await client.get("/readyz")  # no heartbeat written yet
        assert unheard.status_code == 503
        deps = r.services.deps
        await deps.liveness.beat(deps.store, deps.clock.now())
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        found = await current(r.db)  # create_all: none, unless another test stamped it
        schema = ("current" if found == head()
                  else f"at {found or 'no revision'}, not {head()}: run aftercare db upgrade")
        assert ready.json() == {
            "status": "not ready", "database": "reachable", "schema": schema,
            "telegram": "reachable", "clinicians": "no clinician on call",
        }
        assert (await client.get("/")).status_code == 401  # the console, on the same port
        scraped = (await client.get("/metrics")).text
        assert 'aftercare_due_rows{kind="checkin"}' in scraped
        assert "aftercare_worker_heartbeat_age_seconds{worker=" in scraped
    finally:
        await r.app.stop()
        await client.aclose()
