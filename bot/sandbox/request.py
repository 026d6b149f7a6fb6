"""PTB transport that hands every Bot API call to a :class:`SandboxTelegram` instead of HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING

from telegram._utils.types import ODVInput
from telegram.request import BaseRequest, RequestData
from typing_extensions import override

if TYPE_CHECKING:
    from .server import SandboxTelegram

__all__ = ["SandboxRequest"]


class SandboxRequest(BaseRequest):
    """A :class:`telegram.request.BaseRequest` answered in-process by a sandbox server.

    Build it with :meth:`SandboxTelegram.request`; PTB needs one for regular calls and a
    separate one for getUpdates, both may share the same server.
    """

    __slots__ = ("_read_timeout", "initialized", "server")

    def __init__(self, server: SandboxTelegram, read_timeout: float | None = 5.0) -> None:
        self.server = server
        self.initialized = False
        self._read_timeout = read_timeout

    @property
    @override
    def read_timeout(self) -> float | None:
        """The default read timeout PTB adds to getUpdates' long-poll timeout."""
        return self._read_timeout

    @override
    async def initialize(self) -> None:
        """Nothing to open; remembered so tests can see PTB's lifecycle calls."""
        self.initialized = True

    @override
    async def shutdown(self) -> None:
        """Nothing to close."""
        self.initialized = False

    @override
    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Answer from the sandbox; PTB's timeouts don't apply (only getUpdates waits, <= 1 s)."""
        return await self.server.handle(url, method, request_data)
