"""All use cases, wired once by the composition root and reached by handlers and jobs."""

from __future__ import annotations

from typing import Any

from bot.services.access import Access
from bot.services.checkins import Checkins
from bot.services.clinic import Clinic
from bot.services.clinician_actions import ClinicianActions
from bot.services.common import Deps
from bot.services.console import Console
from bot.services.content_admin import ContentAdmin
from bot.services.desk import Desk
from bot.services.dispatch import Dispatcher
from bot.services.enrolment import Enrolment
from bot.services.escalation import Escalations
from bot.services.escalation_views import EscalationViews
from bot.services.inbox import Inbox
from bot.services.languages import Languages
from bot.services.lifeline import Lifeline
from bot.services.menus import Menus
from bot.services.monitoring import Monitoring
from bot.services.outbound import Outbound
from bot.services.outbox import Outbox
from bot.services.outsiders import Outsiders
from bot.services.paging import Paging
from bot.services.patients import Patients
from bot.services.photos import Photos
from bot.services.ports import ContentFiles
from bot.services.privacy import Privacy
from bot.services.questions import Questions
from bot.services.silence import Silence
from bot.services.stats import Stats, TrendStats
from bot.services.timeline import Timeline
from bot.services.voice import Voice
from bot.services.worklist import Worklist


class Services:
    """The application's use cases over one set of dependencies."""

    def __init__(self, deps: Deps, *, console_url: str | None = None,
                 content_files: ContentFiles | None = None) -> None:
        self.deps = deps
        self.console = Console(deps, console_url)
        self.content_admin = ContentAdmin(deps, content_files)
        self.access = Access(deps)
        self.outbox = Outbox(deps)
        self.outbound = Outbound(deps, self.outbox)
        views = EscalationViews(deps, self.outbox)
        self.escalations = Escalations(deps, views)
        self.paging = Paging(deps, views)
        self.clinician_actions = ClinicianActions(deps, views)
        self.enrolment = Enrolment(deps)
        self.desk = Desk(deps, self.enrolment)
        self.questions = Questions(deps, self.outbox, self.escalations)
        self.checkins = Checkins(deps, self.escalations, self.outbox, self.questions)
        self.patients = Patients(deps, self.escalations)
        self.silence = Silence(deps, self.checkins, self.escalations)
        self.photos = Photos(deps, self.checkins)
        self.dispatcher = Dispatcher(
            deps, self.checkins, self.escalations, self.paging, self.silence, self.outbox,
            self.questions, self.photos,
        )
        self.languages = Languages(deps, self.escalations, self.questions)
        self.checkins.answer_unread = self.languages.answer
        self.lifeline = Lifeline(deps, self.checkins)
        self.outsiders = Outsiders(deps, self.checkins, self.escalations)
        self.inbox = Inbox(deps, self.outbound, self.lifeline)
        self.timeline = Timeline(deps)
        self.clinic = Clinic(deps)
        self.voice = Voice(deps, self.checkins, self.photos, self.questions)
        self.inbox.prepare = self._prepare
        self.stats = Stats(deps)
        self.trends = TrendStats(deps)
        self.privacy = Privacy(deps, views)
        self.menus = Menus(deps, console_url)
        self.worklist = Worklist(deps)
        self.monitoring = Monitoring(deps)

    async def _prepare(self, update: dict[str, Any]) -> None:
        """Slow work an update needs before its transaction opens: downloads, transcripts."""
        await self.photos.prepare(update)
        await self.voice.prepare(update)


class BotData:
    """The application's `bot_data`: typed access to the services instead of a bag of keys."""

    def __init__(self) -> None:
        self._services: Services | None = None

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("services are not wired: build the app with bot.app")
        return self._services

    @services.setter
    def services(self, value: Services) -> None:
        self._services = value
