"""The clinic's content edited by an admin: validated before it is applied, kept with its
history, and taken up by every worker without a restart."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.services.common import Deps
from bot.services.ports import ContentFiles

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Uploaded:
    """An upload's outcome: applied, or the problems that kept it out (file:line: field)."""

    applied: bool
    problems: tuple[str, ...] = ()


class ContentAdmin:
    """Content files for admins, and the running content kept in step with them."""

    def __init__(self, deps: Deps, files: ContentFiles | None) -> None:
        self.d = deps
        self.files = files  # None: this deployment's content cannot be edited

    def names(self) -> list[str]:
        return self.files.names() if self.files else []

    def read(self, name: str) -> str | None:
        """A file's text (None: no such file)."""
        try:
            return self.files.read(name) if self.files else None
        except KeyError:
            return None

    def history(self, name: str) -> list[str]:
        try:
            return self.files.history(name) if self.files else []
        except KeyError:
            return []

    async def upload(self, name: str, text: str, *, actor: str) -> Uploaded:
        """Check an edited copy of `name` with every language; apply it if it loads."""
        if self.files is None or name not in self.files.names():
            return Uploaded(False, (f"{name}: no such content file",))
        problems = self.files.check(name, text)
        if problems:
            return Uploaded(False, tuple(problems))
        now = self.d.clock.now()
        self.d.use_library(self.files.apply(name, text, now))
        async with self.d.store.unit_of_work() as uow:
            await uow.records.audit(now, actor, "content_upload", detail=name)
        log.info("content: %s replaced by %s and applied", name, actor)
        return Uploaded(True)

    def refresh(self) -> bool:
        """Take up content another worker applied (or an edit on disk); True if changed.
        Content that no longer loads is logged and the running content kept."""
        if self.files is None:
            return False
        try:
            library = self.files.current()
        except Exception as exc:
            log.error("content: the files do not load (%s); the running content is kept",  # noqa: TRY400
                      type(exc).__name__)  # `check-content` says where: no traceback here
            return False
        if library is self.d.library:
            return False
        self.d.use_library(library)
        log.info("content: changed on disk, taken up")
        return True
