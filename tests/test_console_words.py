"""The console reads in the clinic's language (`CLINIC_LANGUAGE`): every word of its pages
has a translation in each shipped catalog, with the same placeholders, and a French clinic's
console is in French."""

from __future__ import annotations

import ast
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.adapters.content_files import load_library
from bot.console.i18n import DATA_WORDS, LOCALES, catalog
from bot.console.render import REFUSALS
from bot.core.clock import FakeClock
from bot.rehearsal import Rehearsal, sandbox_settings
from bot.store.db import Database
from tests.console_helpers import sign_in, web

CONSOLE = Path(__file__).resolve().parent.parent / "bot" / "console"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def msgids() -> set[str]:
    """Every word the console says: `_("…")` in its templates and code, and data words."""
    found = set(DATA_WORDS) | set(REFUSALS.values())
    for template in (CONSOLE / "templates").glob("*.html"):
        found |= {m.replace('\\"', '"') for m in
                  re.findall(r'_\("((?:[^"\\]|\\.)*)"', template.read_text(encoding="utf-8"))}
    for module in CONSOLE.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "_" and node.args
                    and isinstance(node.args[0], ast.Constant)):
                found.add(str(node.args[0].value))
    return found


@pytest.mark.parametrize("language", sorted(p.stem for p in LOCALES.glob("*.po")))
def test_every_word_has_a_translation_with_the_same_placeholders(language: str) -> None:
    words = msgids()
    assert len(words) > 100
    table = catalog(language)
    assert sorted(words - table.keys()) == []
    for msgid in words:
        assert sorted(PLACEHOLDER.findall(table[msgid])) == sorted(PLACEHOLDER.findall(msgid)), (
            language, msgid)


def test_every_shipped_content_language_has_a_catalog() -> None:
    shipped = set(load_library().contents) - {"en"}
    assert shipped <= {p.stem for p in LOCALES.glob("*.po")}


@pytest.fixture
async def french(database: Database, clock: FakeClock, tmp_path: Path,
                 ) -> AsyncIterator[Rehearsal]:
    settings = sandbox_settings(database.url, storage_dir=tmp_path / "storage",
                                clinic_language="fr")
    async with Rehearsal(database, clock, settings=settings) as r:
        yield r


async def test_a_french_clinic_s_console_is_in_french(french: Rehearsal) -> None:
    r = french
    nurse = r.server.user("Infirmière")
    await r.invite_clinician(nurse)
    async with web(r) as client:
        stranger = await client.get("/")
        assert "pas connecté" in stranger.text
        await sign_in(r, client, nurse)
        page = await client.get("/")
        assert '<html lang="fr">' in page.text
        assert "Alertes en cours" in page.text
        assert "Aucune alerte en cours." in page.text
        assert ">Se déconnecter<" in page.text
        form = await client.get("/enrol")
        assert "Inscrire un patient" in form.text


@pytest.mark.parametrize("language", ["en", "fr", "es", "ru"])
def test_the_content_loads_whichever_language_the_clinic_reads(language: str) -> None:
    """Each lexicon is held to the English one it was written from: one that adds
    combinations of its own words does not stop a clinic reading that language."""
    library = load_library(clinic_language=language)
    assert library.clinic == language
    assert sorted(library.contents) == ["en", "es", "fr", "ru"]
