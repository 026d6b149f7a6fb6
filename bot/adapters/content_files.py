"""Load and validate a clinic's content folder (`content/<language>/*.yaml`).

Every problem is reported as `file:line: field: message`, so a clinic editing its own copy
knows where to look. `load_content` raises `ContentError` listing all of them at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from bot.core.content import (
    CarePlan,
    Clinic,
    Content,
    Messages,
    RedFlag,
    Rule,
    Symptom,
    Template,
    Tip,
)
from bot.core.lexicon_model import Lexicon
from bot.core.library import Library, lexicon_parity, parity

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built in: 5x faster
BUNDLED = Path(__file__).resolve().parents[2] / "content"
LEXICON_REFERENCE = "en"

# file key -> (file name, how to validate its top level)
FILES: dict[str, tuple[str, TypeAdapter[Any]]] = {
    "clinic": ("clinic.yaml", TypeAdapter(Clinic)),
    "plan": ("careplan.yaml", TypeAdapter(CarePlan)),
    "tips": ("tips.yaml", TypeAdapter(dict[str, Tip])),
    "symptoms": ("symptoms.yaml", TypeAdapter(dict[str, Symptom])),
    "red_flags": ("red_flags.yaml", TypeAdapter(dict[str, RedFlag])),
    "rules": ("rules.yaml", TypeAdapter(list[Rule])),
    "messages": ("messages.yaml", TypeAdapter(dict[str, Template])),
    "lexicon": ("lexicon.yaml", TypeAdapter(Lexicon)),
}
# A language without a lexicon is spoken to patients but not read by the triage engine.
OPTIONAL = frozenset({"lexicon"})


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in one file."""

    file: Path
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class ContentError(Exception):
    """The content folder cannot be used; `problems` says where and why."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _field(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line(node: yaml.Node | None, loc: tuple[str | int, ...]) -> int | None:
    """The line of the deepest node `loc` reaches in the composed YAML tree."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc:
        nxt: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if str(key.value) == str(part):
                    nxt = value
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and (
            0 <= part < len(node.value)
        ):
            nxt = node.value[part]
        if nxt is None:
            break
        node = nxt
        line = node.start_mark.line + 1
    return line


def _duplicates(
    node: yaml.Node | None, path: tuple[str | int, ...] = ()
) -> list[tuple[int, str]]:
    """Duplicate mapping keys, which YAML would silently collapse into the last one."""
    found: list[tuple[int, str]] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                found.append((key.start_mark.line + 1, _field((*path, name))))
            seen.add(name)
            found += _duplicates(value, (*path, name))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found += _duplicates(item, (*path, i))
    return found


def _read(path: Path, problems: list[Problem]) -> tuple[Any, yaml.Node | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(Problem(path, None, "", "file is missing"))
        return None, None
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(path, None, "", f"cannot be read: {exc}"))
        return None, None
    try:
        node = yaml.compose(text, Loader=_LOADER)
        data = yaml.load(text, Loader=_LOADER)  # a safe loader (C or Python)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        problems.append(
            Problem(path, mark.line + 1 if mark else None, "", f"not valid YAML: {exc.problem}")
        )
        return None, None
    for line, name in _duplicates(node):
        problems.append(Problem(path, line, name, "duplicate key"))
    return data, node


def language_dir(content_dir: Path, language: str) -> Path:
    """The folder holding one language's files (a folder of YAML files is taken as is)."""
    if (content_dir / "careplan.yaml").exists():
        return content_dir
    return content_dir / language


def load_content(content_dir: Path = BUNDLED, language: str = "en") -> Content:
    """Read, validate and cross-check one language's content; raise ContentError if unusable."""
    folder = language_dir(content_dir, language)
    problems: list[Problem] = []
    parsed: dict[str, Any] = {}
    nodes: dict[str, yaml.Node | None] = {}
    for key, (name, adapter) in FILES.items():
        path = folder / name
        if key in OPTIONAL and not path.exists():
            continue
        data, node = _read(path, problems)
        nodes[key] = node
        if node is None and data is None:
            continue
        try:
            parsed[key] = adapter.validate_python(data)
        except ValidationError as exc:
            for err in exc.errors():
                loc = tuple(err["loc"])
                problems.append(Problem(path, _line(node, loc), _field(loc), err["msg"]))
    if key_problems := _messages(parsed, nodes, folder):
        problems += key_problems
    if problems:
        raise ContentError(problems)
    content = Content(
        language=language,
        clinic=parsed["clinic"],
        plan=parsed["plan"],
        tips=parsed["tips"],
        symptoms=parsed["symptoms"],
        red_flags=parsed["red_flags"],
        rules=parsed["rules"],
        messages=parsed["messages"],
        lexicon=parsed.get("lexicon"),
    )
    for key, loc, message in content.cross_check():
        path = folder / FILES[key][0]
        problems.append(Problem(path, _line(nodes[key], loc), _field(loc), message))
    if problems:
        raise ContentError(problems)
    return content


def _messages(
    parsed: dict[str, Any], nodes: dict[str, yaml.Node | None], folder: Path
) -> list[Problem]:
    """Wrap messages.yaml in its model, reporting each bad key on its own line."""
    raw = parsed.get("messages")
    if raw is None:
        return []
    path = folder / FILES["messages"][0]
    try:
        parsed["messages"] = Messages(messages=raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            text = str(err["msg"]).removeprefix("Value error, ")
            key, _, rest = text.partition(": ")
            if key in raw:
                problems.append(Problem(path, _line(nodes["messages"], (key,)), key, rest))
            else:
                problems.append(Problem(path, None, "", text))
        del parsed["messages"]
        return problems
    return []


def language_folders(content_dir: Path) -> list[str]:
    """The languages a content folder ships: its subfolders named by a language code."""
    if (content_dir / "careplan.yaml").exists():
        return []  # a single language's folder
    return sorted(p.name for p in content_dir.iterdir()
                  if p.is_dir() and re.fullmatch(r"[a-z]{2}", p.name))


def load_library(content_dir: Path = BUNDLED, clinic_language: str = "en") -> Library:
    """Every shipped language, validated, and checked to say the same as the clinic's (read
    again only when a file changed: the content is data, and workers and tests load it
    often)."""
    stamp = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size)
                  for f in sorted(Path(content_dir).rglob("*.yaml")))
    return _load_library(Path(content_dir).resolve(), clinic_language, stamp)


@lru_cache(maxsize=8)
def _load_library(
    content_dir: Path, clinic_language: str, _stamp: tuple[tuple[str, int, int], ...]
) -> Library:
    codes = language_folders(content_dir) or [clinic_language]
    if clinic_language not in codes:
        raise ContentError([Problem(content_dir, None, "", (
            f"the clinic's language {clinic_language!r} is not shipped (folders: "
            f"{', '.join(codes)}); set CLINIC_LANGUAGE to one of them"))])
    problems: list[Problem] = []
    contents: dict[str, Content] = {}
    for code in codes:
        try:
            contents[code] = load_content(content_dir, code)
        except ContentError as exc:
            problems += exc.problems
    base = contents.get(clinic_language)
    # Every lexicon was written from the English one and may add combinations of its own
    # words: each is held to English's, whatever language the clinic reads.
    reference = contents.get(LEXICON_REFERENCE, base)
    for code, other in contents.items():
        if base is None or reference is None or (other is base and base is reference):
            continue
        folder = language_dir(content_dir, code)
        found = (parity(base, other, lexicon_from=reference) if other is not base
                 else lexicon_parity(reference, other))
        for key, loc, message in found:
            path = folder / FILES[key][0]
            node = _read(path, [])[1]
            problems.append(Problem(path, _line(node, loc), _field(loc), message))
    if not problems and all(c.lexicon is None for c in contents.values()):
        problems.append(Problem(content_dir, None, "lexicon.yaml",
                                "no language has a lexicon: the triage engine could read nothing"))
    if problems:
        raise ContentError(problems)
    return Library(contents, clinic_language)
