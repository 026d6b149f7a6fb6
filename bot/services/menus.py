"""Each role's command menu in Telegram: patients see theirs everywhere (the default menu);
each clinician's chat is given the clinicians' menu, an admin's the admins', and a chat that
is no longer a clinician's gets the default back.

Roles change in the bot (a clinician opens their link, `/deactivate`) and from the CLI,
which has no bot: the bot refreshes at once after its own changes and every minute for the
others. What was set is remembered per process, so a refresh calls Telegram only for chats
whose role changed (and once for every clinician after a start).
"""

from __future__ import annotations

import logging

from bot.services.access import Role
from bot.services.common import Deps
from bot.services.ports import DeliveryError

log = logging.getLogger(__name__)

# In order; each description is the content's `menu_<command>`.
PATIENT_MENU = ("start", "status", "report", "help", "language", "stop", "mydata", "forget")
CLINICIAN_MENU = ("open", "patients", "patient", "enrol", "console", "stats", "help")
ADMIN_MENU = (*CLINICIAN_MENU, "clinicians", "rota", "deactivate")


class Menus:
    """Keeps every clinician's chat showing the commands of their role."""

    def __init__(self, deps: Deps, console_url: str | None = None) -> None:
        self.d = deps
        # Telegram opens Mini Apps over HTTPS only: the console's button needs a public URL.
        self.web_app = (f"{console_url.rstrip('/')}/webapp"
                        if console_url and console_url.startswith("https://") else None)
        self._shown: dict[int, Role] = {}  # chat -> the role whose menu this process set

    def commands(self, role: Role, language: str | None = None) -> list[tuple[str, str]]:
        """A role's menu: (command, description) pairs, in the clinic's language for
        clinicians, in `language` (else the clinic's) for patients."""
        names = ADMIN_MENU if role >= Role.ADMIN else (
            CLINICIAN_MENU if role >= Role.CLINICIAN else PATIENT_MENU)
        content = self.d.speaks(language or "") if role < Role.CLINICIAN else self.d.content
        return [(name, content.messages.format(f"menu_{name}")) for name in names]

    async def refresh(self) -> None:
        """Set the menu of every chat whose role changed since this process last set it;
        a chat Telegram refuses now is tried again at the next refresh."""
        async with self.d.store.unit_of_work() as uow:
            clinicians = await uow.clinicians.all()
        wanted: dict[int, Role] = {}
        for c in clinicians:
            if c.chat_id is None:
                continue
            role = (Role.ADMIN if c.is_admin else Role.CLINICIAN) if c.active else Role.ANYONE
            wanted[c.chat_id] = max(role, wanted.get(c.chat_id, Role.ANYONE))
        for chat_id in self._shown.keys() - wanted.keys():  # the chat is no clinician's now
            wanted[chat_id] = Role.ANYONE
        for chat_id, role in sorted(wanted.items()):
            if self._shown.get(chat_id) == role:
                continue
            menu = self.commands(role) if role >= Role.CLINICIAN else None
            button = self.d.content.messages["menu_console_button"]
            web_app = (button, self.web_app) if menu and self.web_app else None
            try:
                await self.d.messenger.set_menu(chat_id, menu, web_app)
            except DeliveryError as exc:
                log.warning("command menu of a clinician's chat not set: %s",
                            type(exc).__name__)
                continue
            self._shown[chat_id] = role
