"""Files people send, downloaded from the Bot API as hostile input.

A Bot API server can lie. python-telegram-bot reads a `file_path` that names a file on this
machine from the local disk (meant for a local Bot API server), so `../../etc/passwd` would
be read and kept as a patient's photo; and it downloads a whole file into memory before
anyone checks its size. Here a path must stay inside the server's file store (relative, no
`..`), local files are read only when the clinic says it runs a local Bot API server
(`TELEGRAM_LOCAL_FILES`), and the transfer is streamed to a spool (memory, then disk) and
stopped as soon as it passes its limit, whatever size was claimed.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path

import httpx
from telegram import Bot
from telegram.error import NetworkError
from telegram.request import HTTPXRequest

from bot.services.ports import FileTooBig, Rejected

SAFE_PATH = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9_\-./]*")
SPOOL = 1024 * 1024  # bytes held in memory before the spool moves to disk
OK = 200


async def download(bot: Bot, file_id: str, *, limit: int, local_files: bool = False) -> bytes:
    """The file's bytes, at most `limit` of them (else `FileTooBig`)."""
    file = await bot.get_file(file_id)
    path = file.file_path or ""
    if isinstance(file.file_size, int) and file.file_size > limit:
        raise FileTooBig(f"{file.file_size} bytes claimed, over {limit}")
    base = f"{bot.base_file_url}/"
    if path.startswith(base):
        relative = path[len(base):]
        if not SAFE_PATH.fullmatch(relative) or ".." in relative.split("/"):
            raise Rejected("the Bot API gave a file path outside its file store")
        return await _stream(bot, path, limit)
    if not local_files:  # PTB left it unprefixed: it names a file on this machine
        raise Rejected("the Bot API gave a local file path; TELEGRAM_LOCAL_FILES is off")
    local = Path(path)
    if not local.is_absolute() or ".." in local.parts:
        raise Rejected("a local Bot API server gives absolute paths")
    return await asyncio.to_thread(_read_local, local, limit)


def _read_local(local: Path, limit: int) -> bytes:
    with local.open("rb") as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise FileTooBig(f"over {limit} bytes on disk")
    return data


async def _stream(bot: Bot, url: str, limit: int) -> bytes:
    request = bot.request
    if not isinstance(request, HTTPXRequest):  # the in-process sandbox: bytes already here
        data = await request.retrieve(url)
        if len(data) > limit:
            raise FileTooBig(f"over {limit} bytes")
        return data
    client: httpx.AsyncClient = request._client  # PTB's own pool, reused
    got = 0
    try:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL) as spool:
            async with client.stream("GET", url) as response:
                if response.status_code != OK:
                    raise NetworkError(f"download answered {response.status_code}")
                async for chunk in response.aiter_bytes():
                    got += len(chunk)
                    if got > limit:  # stop the transfer: the rest is never read
                        raise FileTooBig(f"over {limit} bytes")
                    spool.write(chunk)
            spool.seek(0)
            return spool.read()
    except httpx.HTTPError as exc:
        raise NetworkError(f"download failed: {type(exc).__name__}") from exc
