"""Admins edit the content from the console: an upload is checked with every language and
applied without a restart, or refused with file, line and field (issue 16, point 6)."""

from __future__ import annotations

from pathlib import Path

from bot.rehearsal import Rehearsal
from bot.sandbox import SandboxUser
from tests.console_helpers import sign_in, web

NAME = "en/messages.yaml"


def admin(r: Rehearsal) -> SandboxUser:
    return next(u for u in r.server.users() if u.first_name == "Admin")


async def test_a_broken_file_is_refused_with_where_and_a_good_one_applies_at_once(
    editable: Rehearsal, tmp_path: Path,
) -> None:
    r = editable
    folder = r.settings.content_dir
    original = (folder / NAME).read_text(encoding="utf-8")
    async with web(r) as client:
        csrf = await sign_in(r, client, admin(r))
        listed = await client.get("/admin/content")
        assert NAME in listed.text
        broken = original.replace("consent_yes:", "consent_yes_typo:", 1)
        refused = await client.post(f"/admin/content/{NAME}", data={"csrf": csrf},
                                    files={"file": ("messages.yaml", broken.encode())})
        assert refused.status_code == 422
        assert "en/messages.yaml" in refused.text
        assert "consent_yes" in refused.text
        assert (folder / NAME).read_text(encoding="utf-8") == original  # nothing applied
        not_yaml = await client.post(f"/admin/content/{NAME}", data={"csrf": csrf},
                                     files={"file": ("m.yaml", b"help: [unclosed")})
        assert not_yaml.status_code == 422
        assert ":1" in not_yaml.text or "line" in not_yaml.text
        for odd in (b"", b"# nothing but a comment\n", b"a: &x [*x]\n", b"\xff\xfe"):
            answer = await client.post(f"/admin/content/{NAME}", data={"csrf": csrf},
                                        files={"file": ("m.yaml", odd)})
            assert answer.status_code == 422, odd
            assert "Not applied" in answer.text
        edited = original.replace('menu_open: "Open escalations, most urgent first"',
                                  'menu_open: "Open escalations (worst first)"')
        assert edited != original
        done = await client.post(f"/admin/content/{NAME}", data={"csrf": csrf},
                                 files={"file": ("messages.yaml", edited.encode())})
        assert done.status_code == 200
        assert "is applied" in done.text
        assert "Earlier copies kept" in done.text
    assert r.services.deps.content.messages["menu_open"] == "Open escalations (worst first)"
    kept = list((folder / ".history" / "en").glob("messages.yaml.*"))
    assert len(kept) == 1
    assert kept[0].read_text(encoding="utf-8") == original
    assert not r.services.content_admin.refresh()  # already the running content


async def test_nurses_cannot_edit_and_paths_outside_the_folder_are_nothing(
    editable: Rehearsal,
) -> None:
    r = editable
    nurse = next(u for u in r.server.users() if u.first_name == "Nurse")
    async with web(r) as client:
        await sign_in(r, client, nurse)
        assert (await client.get(f"/admin/content/{NAME}")).status_code == 403
    async with web(r) as client:
        await sign_in(r, client, admin(r))
        assert (await client.get("/admin/content/../../pyproject.toml")).status_code == 404
        escaped = await client.get("/admin/content/en%2F..%2F..%2Fpyproject.toml")
        assert escaped.status_code == 404
