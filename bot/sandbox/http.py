"""The sandbox over HTTP, so a real `aftercare run` process can use it as TELEGRAM_API_URL.

PTB's HTTP transport posts each parameter as a form field, JSON-encoded unless it is a string;
fields are decoded back by the types the Bot API schema gives them. File uploads and injected
timeouts are in-process features only (a timeout answers 504 here).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from telegram.error import TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

from .server import SandboxTelegram

__all__ = ["SandboxHTTP"]


def _field_types() -> dict[str, dict[str, list[str]]]:
    raw = json.loads(resources.files(__package__).joinpath("api.min.json").read_text("utf-8"))
    return {
        method: {f["name"]: f["types"] for f in spec.get("fields", [])}
        for method, spec in raw["methods"].items()
    }


def _decode(text: str, types: list[str]) -> Any:
    """A form value as the Bot API reads it: strings stay strings, others are JSON."""
    if "Integer" in types and text.lstrip("-").isdigit():
        return int(text)  # chat_id is "Integer or String": a number is the integer
    if "String" in types:
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


class _Handler(RequestHandler):
    def initialize(self, front: SandboxHTTP) -> None:
        self.front = front

    async def get(self, _path: str) -> None:
        await self._answer("GET", None)

    async def post(self, path: str) -> None:
        method = path.rsplit("/", 1)[-1]
        fields = self.front.field_types.get(method, {})
        params = [
            RequestParameter(name, _decode(values[-1].decode("utf-8"), fields.get(name, [])), None)
            for name, values in self.request.body_arguments.items()
        ]
        await self._answer("POST", RequestData(params))

    async def _answer(self, method: str, data: RequestData | None) -> None:
        try:
            status, body = await self.front.server.handle(self.request.full_url(), method, data)
        except TimedOut:
            status, body = 504, b'{"ok": false, "error_code": 504, "description": "Timeout"}'
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(body)


class SandboxHTTP:
    """Serve a SandboxTelegram on 127.0.0.1; `url` is what TELEGRAM_API_URL should be."""

    def __init__(self, server: SandboxTelegram, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server = server
        self.field_types = _field_types()
        self._app = Application([(r"/(.*)", _Handler, {"front": self})])
        self._http = HTTPServer(self._app)
        sockets = bind_sockets(port, host)  # a given port: the same front, back after a stop
        self.port = int(sockets[0].getsockname()[1])
        self.url = f"http://{host}:{self.port}"
        self._http.add_sockets(sockets)

    async def close(self) -> None:
        self._http.stop()
        await self._http.close_all_connections()
