"""`aftercare enrol`: one patient, or every row of a CSV file, with their deep links."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.cli_support import CliError, bot_username, check_schema, load_settings


def _parse_session_at(text: str, tz_name: str) -> datetime:
    """The desk's reading of a time (`bot.core.when`): ISO 8601, or 14:30 for today; a
    wall-clock time is in the clinic's (or patient's) zone."""
    from bot.core.when import session_time  # noqa: PLC0415

    try:
        return session_time(text, ZoneInfo(tz_name), datetime.now(UTC))
    except ValueError as exc:
        raise CliError(f"--session-at: not an ISO 8601 time: {text!r}") from exc


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CliError(f"unknown time zone {name!r} (use an IANA name like Europe/Paris)") from exc
    return name


def _name(value: str | None) -> str:
    name = (value or "").strip()
    if not name:
        raise CliError("name is empty")
    return name


def cmd_enrol(args: argparse.Namespace) -> int:
    """Enrol one patient (or every row of --csv) and print the deep link(s)."""
    if args.csv:
        rows = list(csv.DictReader(Path(args.csv).read_text(encoding="utf-8").splitlines()))
    else:
        if not args.session_at or not (args.name or args.patient_id):
            raise CliError("enrol needs --name and --session-at (or --patient-id and "
                           "--session-at for a later session, or --csv FILE)")
        rows = [
            {
                "name": args.name,
                "session_at": args.session_at,
                "timezone": args.timezone or "",
                "areas": ", ".join(args.areas or []),
                "phone": args.phone or "",
                "language": args.language or "",
                "country": args.country or "",
            }
        ]
    return asyncio.run(_enrol(args, rows))


async def _enrol(args: argparse.Namespace, rows: list[dict[str, Any]]) -> int:
    from bot.app import build_services  # noqa: PLC0415
    from bot.services.enrolment import deep_link  # noqa: PLC0415
    from bot.services.ports import OfflineMessenger  # noqa: PLC0415

    settings = load_settings()
    await check_schema(settings)
    username = await bot_username(settings)
    services = build_services(settings, messenger=OfflineMessenger())
    db = services.deps.store
    failures = 0
    try:
        for row in rows:
            try:
                tz_name = _zone((row.get("timezone") or "").strip() or settings.clinic_timezone)
                invitation = await services.enrolment.invite_patient(
                    name="" if args.patient_id else _name(row.get("name")),
                    session_at=_parse_session_at((row.get("session_at") or "").strip(), tz_name),
                    timezone=tz_name,
                    areas=(row.get("areas") or "").strip(),
                    phone=(row.get("phone") or "").strip() or None,
                    patient_id=args.patient_id,
                    language=(row.get("language") or "").strip(),
                    country=(row.get("country") or "").strip(),
                )
            except (CliError, LookupError, ValueError) as exc:
                failures += 1
                if not args.csv:
                    raise CliError(str(exc)) from exc
                print(json.dumps({"name": row.get("name"), "error": str(exc)}))
                continue
            link = deep_link(username, invitation.token)
            out = {"patient_id": invitation.patient_id, "token": invitation.token, "link": link}
            if args.csv or args.json:
                print(json.dumps(out))
            else:
                print(link)
            if args.qr and not args.csv:
                from bot.services.desk import QR_LOOK, qr_code  # noqa: PLC0415

                # The file's extension picks the format (PNG, SVG, PDF...), as segno does.
                await asyncio.to_thread(qr_code(link).save, args.qr, **QR_LOOK)
    finally:
        await db.dispose()
    return 1 if failures else 0
