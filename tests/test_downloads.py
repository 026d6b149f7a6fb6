"""Downloads are hostile input: a Bot API server that lies about a file's path or size, a
transfer that never ends, a press forged for someone else's chat."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from sqlmodel import select
from telegram.request import HTTPXRequest

from bot.adapters.downloads import _stream
from bot.rehearsal import Rehearsal
from bot.sandbox import SandboxUser
from bot.sandbox.users import TINY_JPEG
from bot.services.outbox import HANDLING
from bot.services.ports import FileTooBig
from bot.store.models import Escalation, Photo
from tests.conftest import paris


async def enrolled(r: Rehearsal) -> SandboxUser:
    ana = r.server.user("Ana")
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    return ana


async def photos(r: Rehearsal) -> list[Photo]:
    async with r.db.unit_of_work() as uow:
        return list((await uow.orm.exec(select(Photo))).all())


def photo_id(update: dict[str, Any]) -> str:
    return str(update["message"]["photo"][-1]["file_id"])


async def test_a_path_outside_the_file_store_is_never_read(rehearsal: Rehearsal) -> None:
    r = rehearsal
    ana = await enrolled(r)
    for lie in ("../../../../../../etc/passwd", "/etc/passwd", "photos/../../secret"):
        update = ana.send_photo()
        r.server.lie_about_file(photo_id(update), file_path=lie)
        await r.process(update)
        assert "couldn't" in (r.server.last(ana.id).text or "").lower()
    assert await photos(r) == []


async def test_a_voice_note_s_lying_path_is_never_read_and_the_question_still_comes(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    ana = await enrolled(r)
    update = ana.send_voice(b"OggS" + bytes(64))
    r.server.lie_about_file(str(update["message"]["voice"]["file_id"]),
                            file_path="../../../../etc/passwd")
    await r.process(update)
    assert "one question about your voice note" in (r.server.last(ana.id).text or "")
    assert await photos(r) == []  # nothing read, nothing kept


async def test_a_file_bigger_than_it_claims_is_refused(rehearsal: Rehearsal) -> None:
    r = rehearsal
    ana = await enrolled(r)
    update = ana.send_photo(TINY_JPEG + bytes(11 * 1024 * 1024))  # over the 10 MB limit
    r.server.lie_about_file(photo_id(update), file_size=1024)
    await r.process(update)
    assert "too large" in (r.server.last(ana.id).text or "")
    assert await photos(r) == []


async def test_a_photo_is_what_its_bytes_say(rehearsal: Rehearsal) -> None:
    r = rehearsal
    ana = await enrolled(r)
    await r.process(ana.send_photo(b"#!/bin/sh\nrm -rf /\n" * 10))  # a script, sent as a photo
    assert await photos(r) == []
    await r.process(ana.send_photo())
    [kept] = await photos(r)
    assert kept.mime == "image/jpeg"


async def test_a_file_the_bot_cannot_keep_still_has_its_caption_triaged(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    ana = await enrolled(r)
    await r.process(ana.send_document(b"%PDF-1.4", "report.pdf", "application/pdf",
                                      caption="my lips are swelling and I can't breathe"))
    told = [m.text or "" for m in r.server.sent(ana.id)]
    assert any("Please call 112 now" in t for t in told)
    async with r.db.unit_of_work() as uow:
        [flagged] = (await uow.orm.exec(select(Escalation))).all()
    assert flagged.level == "emergency"


async def test_the_transfer_stops_at_the_limit_whatever_was_claimed() -> None:
    """A server that streams without end: the download stops just past the limit."""
    written = 0

    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal written
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")  # read to the end
        chunk = bytes(64 * 1024)
        try:
            while written < 500 * 1024 * 1024:
                writer.write(chunk)
                await writer.drain()
                written += len(chunk)
        except (ConnectionError, OSError):
            pass
        writer.close()

    server = await asyncio.start_server(endless, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    request = HTTPXRequest()
    await request.initialize()
    try:
        bot: Any = SimpleNamespace(request=request)
        with pytest.raises(FileTooBig):
            await _stream(bot, f"http://127.0.0.1:{port}/file", 2 * 1024 * 1024)
    finally:
        await request.shutdown()
        server.close()
    assert written < 50 * 1024 * 1024  # stopped, not read to its end


async def test_a_press_forged_for_another_chat_is_refused(rehearsal: Rehearsal) -> None:
    r = rehearsal
    ana = await enrolled(r)
    mallory = r.server.user("Mallory")
    await r.run_until(paris(2026, 11, 3, 19, 5))
    await r.press(ana, "⚠️ Warning signs")
    forged = ana.press_button("Skin white")
    forged["callback_query"]["from"] = mallory.json
    await r.process(forged)
    async with r.db.unit_of_work() as uow:
        assert (await uow.orm.exec(select(Escalation))).all() == []
    assert "Please call 112" not in " ".join(m.text or "" for m in r.server.sent(ana.id))


async def test_a_photo_is_downloaded_before_its_update_s_transaction_opens(
    rehearsal: Rehearsal,
) -> None:
    """A slow transfer must not hold the database (SQLite's one connection) meanwhile."""
    r = rehearsal
    ana = await enrolled(r)
    messenger = r.services.deps.messenger
    fetch = messenger.fetch_file
    inside: list[bool] = []

    async def watched(file_id: str, *, limit: int) -> bytes:
        inside.append(HANDLING.get() is not None)
        return await fetch(file_id, limit=limit)

    messenger.fetch_file = watched  # type: ignore[method-assign]
    await r.process(ana.send_photo(caption="my cheek today"))
    assert inside == [False]
    assert len(await photos(r)) == 1
