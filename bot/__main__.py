"""The `aftercare` command line (also `python -m bot`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.adapters import logs
from bot.adapters.content_files import ContentError, load_library
from bot.cli_enrol import cmd_enrol
from bot.cli_support import CliError, bot_username, check_schema, load_settings, with_services
from bot.config import Settings

NO_TOKEN = (
    "TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather in Telegram "
    "(https://t.me/BotFather, /newbot), then export TELEGRAM_BOT_TOKEN=<the token it gives you>."
)


def _logging(settings: Settings) -> None:
    secrets = [
        s.get_secret_value()
        for s in (settings.telegram_bot_token, settings.webhook_secret)
        if s is not None
    ]
    logs.configure(settings.log_level, settings.log_format, secrets)


def cmd_run(_args: argparse.Namespace) -> int:
    """Run the bot (long polling) until interrupted."""
    from bot.app import build_application  # noqa: PLC0415 (keep `--help` fast)

    settings = load_settings()
    if settings.telegram_bot_token is None:
        raise CliError(NO_TOKEN)
    _logging(settings)
    load_library(settings.content_dir, settings.clinic_language)
    asyncio.run(check_schema(settings))
    app = build_application(settings)
    if settings.webhook_url:
        from bot.webhook import serve  # noqa: PLC0415

        if settings.webhook_secret is None:
            raise CliError("WEBHOOK_SECRET is required with WEBHOOK_URL (Telegram echoes it)")
        asyncio.run(serve(app, settings))
    else:  # long polling, or (RECEIVE_UPDATES=false) a worker for the inbox and the queue
        from bot.runtime import run  # noqa: PLC0415

        asyncio.run(run(app, settings))
    return 0


def cmd_db_upgrade(_args: argparse.Namespace) -> int:
    """Create or migrate the database schema to this version's."""
    from bot.store.db import Database  # noqa: PLC0415
    from bot.store.migrate import upgrade  # noqa: PLC0415

    async def go() -> str:
        db = Database(load_settings().database_url)
        try:
            return await upgrade(db)
        finally:
            await db.dispose()

    print(f"database schema at revision {asyncio.run(go())}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Rehearse a patient's follow-up against the sandbox and print the transcript; then,
    if asked, serve the demo clinic's console (seconds; -1: until Ctrl-C)."""
    from bot.demo import main as demo_main  # noqa: PLC0415

    console_for = -1.0 if args.console else args.console_for
    try:
        return asyncio.run(demo_main(console_for=console_for))
    except KeyboardInterrupt:
        return 0


def cmd_check_content(args: argparse.Namespace) -> int:
    """Validate a content folder; errors name the file, line and field."""
    settings = load_settings()
    folder = Path(args.dir) if args.dir else settings.content_dir
    if re.fullmatch(r"[a-z]{2}", folder.name) and (folder.parent / settings.clinic_language
                                                    / "clinic.yaml").is_file():
        # One language's folder is checked with the others (parity needs them all).
        print(f"{folder} is one language of {folder.parent}: checking them all")
        folder = folder.parent
    library = load_library(folder, settings.clinic_language)
    content = library.speaks(library.clinic)
    languages = ", ".join(
        code + ("" if code in library.read else " (spoken, not read by triage)")
        for code in sorted(library.spoken))
    print(
        f"content OK ({folder}): {len(content.plan.steps)} plan steps, {len(content.tips)} tips, "
        f"{len(content.symptoms)} symptoms, {len(content.red_flags)} red flags, "
        f"{len(content.rules)} rules; languages: {languages}"
    )
    return 0


def cmd_triage(args: argparse.Namespace) -> int:
    """Triage JSON Lines from stdin ({"day", "text", "id"?}); one JSON line out per line in."""
    from bot.adapters.languages import FastLangdetect  # noqa: PLC0415
    from bot.core.language import reading_order  # noqa: PLC0415
    from bot.core.triage import Readers  # noqa: PLC0415

    settings = load_settings()
    library = load_library(settings.content_dir, settings.clinic_language)
    readers = Readers(library.contents.values(), library.clinic)
    shipped, guesser = library.read, FastLangdetect()
    failures = 0
    for number, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        item: Any = None
        try:
            item = json.loads(line)
            day, text = _triage_input(item)
        except (ValueError, TypeError) as exc:
            failures += 1
            echo = item.get("id") if isinstance(item, dict) else None
            print(json.dumps({"id": echo, "error": f"line {number}: {exc}"}), flush=True)
            continue
        # Forced, or identified line by line as the bot does (a guess only when confident).
        if args.language:
            order, unread = [args.language], None if args.language in shipped else args.language
        else:
            order, unread = reading_order(text, guess=guesser.guess(text), read=shipped,
                                          knows=readers.knows, own="", clinic=library.clinic)
        if unread is not None:
            print(json.dumps({"id": item.get("id"), "language": unread, "level": "routine",
                              "screen": True, "unread": True}), flush=True)
            continue  # not read: the bot asks the red-flag question and tells the clinic
        reading = readers.read_in(order, text, day=day)
        out: dict[str, Any] = {
            "id": item.get("id"),
            "language": order[0],
            "level": reading.assessment.level.label,
            "symptoms": reading.symptoms,
            "rules": reading.assessment.rule_ids,
            "screen": reading.screen,  # the bot would ask the red-flag question
        }
        if args.explain:
            out["explain"] = reading.explain()
        print(json.dumps(out, ensure_ascii=False), flush=True)
    return 1 if failures else 0


def _triage_input(item: Any) -> tuple[int, str]:
    if not isinstance(item, dict):
        raise TypeError("each line must be a JSON object")
    day, text = item.get("day"), item.get("text")
    if not isinstance(day, int) or isinstance(day, bool) or day < 0:
        raise TypeError('"day" must be a whole number of days since the session')
    if not isinstance(text, str):
        raise TypeError('"text" must be a string')
    return day, text


def cmd_audit(args: argparse.Namespace) -> int:
    """Who did what and when: clinicians' and admins' actions, exports, erasures."""
    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError as exc:
            raise CliError(f"--since: expected a date like 2026-11-20: {args.since!r}") from exc
        if since.tzinfo is None:
            since = since.replace(tzinfo=ZoneInfo(load_settings().clinic_timezone))
    events = asyncio.run(
        with_services(lambda s: s.clinic.audit(since=since, patient_id=args.patient))
    )
    for e in events:
        if args.json:
            print(json.dumps({"id": e.id, "at": e.at.isoformat(), "actor": e.actor,
                              "action": e.action, "patient_id": e.patient_id,
                              "detail": e.detail}))
        else:
            patient = f" patient #{e.patient_id}" if e.patient_id is not None else ""
            detail = f" ({e.detail})" if e.detail else ""
            print(f"{e.at:%Y-%m-%d %H:%M:%S}Z {e.actor} {e.action}{patient}{detail}")
    return 0


def cmd_clinician_list(_args: argparse.Namespace) -> int:
    """Print every clinician: active, admin, place on the rota."""
    print(asyncio.run(with_services(lambda s: s.clinic.clinicians())))
    return 0


def cmd_clinician_deactivate(args: argparse.Namespace) -> int:
    """Stop paging a clinician and refuse them access."""
    print(asyncio.run(with_services(lambda s: s.clinic.deactivate(args.id))))
    return 0


def cmd_clinician_rota(args: argparse.Namespace) -> int:
    """Set the on-call order (first paged first); no ids empties the rota."""
    changed = asyncio.run(with_services(lambda s: s.clinic.set_rota(args.ids)))
    print(changed.text)
    return 0 if changed.ok else 1


def cmd_backup(args: argparse.Namespace) -> int:
    """The database and the media in one archive (consistent while the bot runs)."""
    from bot.backup import BackupError, backup  # noqa: PLC0415

    settings = load_settings()
    try:
        manifest = backup(settings, Path(args.file))
    except BackupError as exc:
        raise CliError(str(exc)) from exc
    print(json.dumps(manifest) if args.json else
          f"backed up the {manifest['dialect']} database (schema {manifest['schema']}) and "
          f"{manifest['media_files']} media file(s) to {args.file}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Put an archive's database and media back; the workers must be stopped."""
    from bot.backup import BackupError, restore  # noqa: PLC0415

    settings = load_settings()
    running = asyncio.run(_running_workers(settings))
    if running and not args.force:
        raise CliError(f"{running} worker(s) beat in the last minute: stop them first "
                       "(or --force)")
    try:
        manifest = restore(settings, Path(args.file))
    except BackupError as exc:
        raise CliError(str(exc)) from exc
    print(f"restored the database (schema {manifest['schema']}) and "
          f"{manifest['media_files']} media file(s) from {args.file}; then run "
          "aftercare db upgrade if this version's schema is newer")
    return 0


async def _running_workers(settings: Any) -> int:
    from datetime import timedelta  # noqa: PLC0415

    from bot.app import system_clock  # noqa: PLC0415
    from bot.store.db import Database  # noqa: PLC0415

    db = Database(settings.database_url)
    now = system_clock(settings).now()  # the workers' clock (shifted in rehearsals)
    try:
        async with db.unit_of_work() as uow:
            backlog = await uow.monitoring.backlog(now)
    except Exception:  # no database or no schema yet: nothing runs on it
        return 0
    finally:
        await db.dispose()
    return sum(1 for _, beat in backlog.heartbeats if now - beat < timedelta(minutes=1))


def cmd_doctor(_args: argparse.Namespace) -> int:
    """Check the deployment: one line per check, with what to do about each failure."""
    from bot.doctor import main as doctor  # noqa: PLC0415

    return doctor()


def cmd_stats(args: argparse.Namespace) -> int:
    """Clinic figures, as text or JSON."""
    async def figures(services: Any) -> str:
        found = await services.stats.figures()
        return json.dumps(found.to_json()) if args.json else str(services.stats.render(found))

    print(asyncio.run(with_services(figures)))
    return 0


async def _invite_clinician(args: argparse.Namespace) -> int:
    from bot.app import build_services  # noqa: PLC0415
    from bot.services.enrolment import deep_link  # noqa: PLC0415
    from bot.services.ports import OfflineMessenger  # noqa: PLC0415

    settings = load_settings()
    await check_schema(settings)
    username = await bot_username(settings)
    services = build_services(settings, messenger=OfflineMessenger())
    try:
        invitation = await services.enrolment.invite_clinician(name=args.name, admin=args.admin)
    finally:
        await services.deps.store.dispose()
    link = deep_link(username, invitation.token)
    if args.json:
        print(json.dumps({"clinician_id": invitation.clinician_id, "token": invitation.token,
                          "link": link}))
    else:
        print(link)
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    p = argparse.ArgumentParser(prog="aftercare", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the bot (needs TELEGRAM_BOT_TOKEN)").set_defaults(func=cmd_run)
    demo = sub.add_parser("demo", help="rehearse a patient's follow-up against the sandbox")
    demo.add_argument("--console", action="store_true",
                      help="then keep the demo clinic's console up until Ctrl-C")
    demo.add_argument("--console-for", type=float, default=0, metavar="SECONDS",
                      help="then keep the demo clinic's console up this long")
    demo.set_defaults(func=cmd_demo)
    saved = sub.add_parser("backup", help="the database and the media in one archive")
    saved.add_argument("file")
    saved.add_argument("--json", action="store_true")
    saved.set_defaults(func=cmd_backup)
    restored = sub.add_parser("restore", help="put an archive back (workers stopped)")
    restored.add_argument("file")
    restored.add_argument("--force", action="store_true",
                          help="even if a worker seems to run")
    restored.set_defaults(func=cmd_restore)
    sub.add_parser("doctor", help="check the configuration, Telegram, the database, the "
                   "content, the clinicians, the storage and the clock").set_defaults(
        func=cmd_doctor)
    triage = sub.add_parser(
        "triage", help="triage JSON Lines from stdin: {\"day\": 3, \"text\": \"...\"}"
    )
    triage.add_argument("--explain", action="store_true", help="add a human-readable reason")
    triage.add_argument("--language", metavar="XX",
                        help="the lines' language (ISO 639-1); without it each is identified")
    triage.set_defaults(func=cmd_triage)

    check = sub.add_parser("check-content", help="validate a content folder")
    check.add_argument("dir", nargs="?", help="content folder (default: CONTENT_DIR)")
    check.set_defaults(func=cmd_check_content)
    _enrol_parser(sub)
    _clinician_parser(sub)
    _records_parsers(sub)
    return p


def _enrol_parser(sub: Any) -> None:
    enrol = sub.add_parser("enrol", help="enrol a patient and print their deep link")
    enrol.add_argument("--name")
    enrol.add_argument("--session-at", help="ISO 8601; without an offset, local to --timezone; "
                       "up to the clinic's session_days_ahead (30) ahead")
    enrol.add_argument("--timezone", help="the patient's IANA zone (default CLINIC_TIMEZONE)")
    enrol.add_argument("--areas", nargs="*", help="treated areas, among the clinic's "
                       "treated_areas (face, neck, décolleté, scalp, body, hands)")
    enrol.add_argument("--phone")
    enrol.add_argument("--language", metavar="XX",
                       help="what the patient reads, e.g. fr (default: their Telegram's "
                            "language if shipped, else CLINIC_LANGUAGE)")
    enrol.add_argument("--country", metavar="XX",
                       help="where the patient is (ISO 3166, e.g. GB), for the emergency "
                            "number they are told (default: read from an international "
                            "--phone, else the clinic's)")
    enrol.add_argument("--patient-id", type=int, help="a later session for a known patient")
    enrol.add_argument("--json", action="store_true", help='print {"patient_id","token","link"}')
    enrol.add_argument("--qr", metavar="FILE.png", help="also write the link as a QR code")
    enrol.add_argument("--csv", metavar="FILE", help="enrol every row (name,session_at,...)")
    enrol.set_defaults(func=cmd_enrol)


def _clinician_parser(sub: Any) -> None:
    clinician = sub.add_parser("clinician", help="manage clinicians")
    csub = clinician.add_subparsers(dest="action", required=True)
    invite = csub.add_parser("invite", help="print a clinician's registration link")
    invite.add_argument("--name", required=True)
    invite.add_argument("--admin", action="store_true", help="may manage clinicians and the rota")
    invite.add_argument("--json", action="store_true")
    invite.set_defaults(func=lambda a: asyncio.run(_invite_clinician(a)))
    csub.add_parser("list", help="list clinicians").set_defaults(func=cmd_clinician_list)
    deactivate = csub.add_parser("deactivate", help="stop paging a clinician")
    deactivate.add_argument("id", type=int)
    deactivate.set_defaults(func=cmd_clinician_deactivate)
    rota = csub.add_parser("rota", help="set the on-call order: aftercare clinician rota 3 1 2")
    rota.add_argument("ids", type=int, nargs="*")
    rota.set_defaults(func=cmd_clinician_rota)


def _records_parsers(sub: Any) -> None:
    """The schema, the audit log and the figures."""
    database = sub.add_parser("db", help="the database schema")
    dsub = database.add_subparsers(dest="action", required=True)
    dsub.add_parser("upgrade", help="create or migrate the schema").set_defaults(
        func=cmd_db_upgrade
    )

    audit = sub.add_parser("audit", help="print the audit log (who did what, when)")
    audit.add_argument("--since", help="from this date or time (clinic time), e.g. 2026-11-20")
    audit.add_argument("--patient", type=int, help="only events about this patient id")
    audit.add_argument("--json", action="store_true", help="one JSON object per line")
    audit.set_defaults(func=cmd_audit)

    stats = sub.add_parser("stats", help="clinic figures")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(func=cmd_stats)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `aftercare` console script."""
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CliError as exc:
        print(f"aftercare: {exc}", file=sys.stderr)
        return 2
    except ContentError as exc:
        print(f"aftercare: the content is not valid:\n{exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
