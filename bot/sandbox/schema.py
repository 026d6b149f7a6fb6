"""Validation of Bot API requests against the vendored schema (``api.min.json``) and limits.

The schema says which parameters a method takes and their types; Telegram's documented limits
(text lengths, callback data size, HTML markup) come on top. :meth:`ApiSchema.validate` returns
human-readable violations; the sandbox answers any request with violations with a 400, the way
Telegram would, so a bot cannot pass its tests with requests the real server rejects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from .formatting import EntityParseError, parse_html, trim_entities
from .models import UploadedFile

__all__ = ["ApiSchema", "FieldSpec", "TypeSpec", "render_text"]

PARSE_MODES = {"html": "HTML", "markdown": "Markdown", "markdownv2": "MarkdownV2"}

# Which text fields each parse-mode field governs.
_FORMATTED_FIELDS: dict[str, tuple[str, ...]] = {
    "parse_mode": ("text", "caption", "message_text"),
    "text_parse_mode": ("text",),
    "quote_parse_mode": ("quote",),
    "question_parse_mode": ("question",),
    "explanation_parse_mode": ("explanation",),
    "description_parse_mode": ("description",),
}

# A method's top-level `text`: (min, max) characters after parsing with the given mode field.
_TEXT_LIMITS: dict[str, tuple[int, int, str]] = {
    "sendMessage": (1, 4096, "parse_mode"),
    "editMessageText": (1, 4096, "parse_mode"),
    "sendMessageDraft": (0, 4096, "parse_mode"),
    "answerCallbackQuery": (0, 200, ""),
    "sendGift": (0, 128, "text_parse_mode"),
    "giftPremiumSubscription": (0, 128, "text_parse_mode"),
}
_CAPTION_MAX = 1024
_MESSAGE_TEXT_LIMITS = (1, 4096, "parse_mode")  # InputTextMessageContent.message_text
_CALLBACK_DATA_BYTES = (1, 64)
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
# Fields of InlineKeyboardButton that are decoration, not the button's action.
_BUTTON_DECORATION = frozenset({"text", "icon_custom_emoji_id", "style"})
_PRIMITIVES = frozenset({"Integer", "String", "Boolean", "Float", "InputFile"})
# Union members say which one they are in their first field: 'Scope type, must be chat'.
_TAG_RE = re.compile(r"(?:always|must be)\s+[\"“*]?([a-z0-9_]+)[\"”*]?\s*$")


@dataclass(frozen=True)
class FieldSpec:
    """One parameter of a method or field of a type."""

    name: str
    types: tuple[str, ...]
    required: bool


@dataclass(frozen=True)
class TypeSpec:
    """A Bot API object type; ``subtypes`` is set for abstract unions like ``ChatMember``."""

    name: str
    fields: tuple[FieldSpec, ...] | None
    subtypes: tuple[str, ...] = ()
    tag: tuple[str, str] | None = None  # (field, value) identifying this member of a union


@dataclass(frozen=True)
class _Violation:
    path: str
    message: str
    wrong_union_member: bool = False  # the object is tagged as a different type

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def render_text(
    text: str, parse_mode: str | None, entities: Sequence[Mapping[str, Any]] | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """Text and entities as Telegram stores them: HTML rendered, surrounding whitespace trimmed.

    Raises :class:`EntityParseError` for malformed HTML. Markdown is not rendered.
    """
    if parse_mode and parse_mode.lower() == "html":
        plain, found = parse_html(text)
    else:
        plain, found = text, [dict(entity) for entity in entities or ()]
    return trim_entities(plain, found)


@cache
def _vendored_schema() -> ApiSchema:
    raw = Path(__file__).with_name("api.min.json").read_text("utf-8")
    return ApiSchema(json.loads(raw))


def _kind(value: object) -> str:
    """Name a Python value by its Bot API kind, for error messages."""
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "Float"
    if isinstance(value, str):
        return "String"
    if isinstance(value, UploadedFile):
        return "InputFile"
    if isinstance(value, list | tuple):
        return "Array"
    if isinstance(value, dict):
        return "Object"
    return type(value).__name__


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class ApiSchema:
    """The Bot API schema: methods, types, and request validation."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.version: str = str(data.get("version", "unknown"))
        self.methods: dict[str, tuple[FieldSpec, ...]] = {
            name: self._fields(spec) or () for name, spec in data["methods"].items()
        }
        self.types: dict[str, TypeSpec] = {
            name: TypeSpec(
                name, self._fields(spec), tuple(spec.get("subtypes", ())), self._tag(spec)
            )
            for name, spec in data["types"].items()
        }
        # Telegram matches method names case-insensitively.
        self._method_names = {name.lower(): name for name in self.methods}
        self._type_checks: dict[str, Callable[[dict[str, Any], str], list[_Violation]]] = {
            "InlineKeyboardButton": self._check_inline_button,
            "KeyboardButton": self._check_keyboard_button,
            "BotCommand": self._check_bot_command,
            "InputTextMessageContent": self._check_message_text,
        }

    @staticmethod
    def _fields(spec: Mapping[str, Any]) -> tuple[FieldSpec, ...] | None:
        if "fields" not in spec:
            return None
        return tuple(
            FieldSpec(f["name"], tuple(f["types"]), bool(f["required"])) for f in spec["fields"]
        )

    @staticmethod
    def _tag(spec: Mapping[str, Any]) -> tuple[str, str] | None:
        fields = spec.get("fields") or ()
        if not fields or fields[0]["name"] not in ("type", "status", "source"):
            return None
        match = _TAG_RE.search(fields[0]["description"])
        return (fields[0]["name"], match.group(1)) if match else None

    @staticmethod
    def load() -> ApiSchema:
        """The vendored schema shipped next to this module (parsed once per process)."""
        return _vendored_schema()

    def canonical_method(self, method: str) -> str | None:
        """The schema's spelling of ``method``, or None if Telegram has no such method."""
        return self._method_names.get(method.lower())

    def validate(self, method: str, params: Mapping[str, object]) -> list[str]:
        """Return every way ``params`` breaks the schema or Telegram's limits (empty if valid).

        Uploaded files appear in ``params`` as :class:`UploadedFile` values.
        """
        name = self.canonical_method(method)
        if name is None:
            return [f"unknown method {method!r}"]
        violations = self._check_object(self.methods[name], params, "", top_level=True)
        violations += self._check_formatting(params, "")
        violations += self._check_text_limit(name, params)
        return [str(v) for v in violations]

    def validate_object(self, type_name: str, value: object) -> list[str]:
        """Check a Bot API object (e.g. an ``Update`` the sandbox produced) against its type."""
        return [str(v) for v in self._check_value(value, type_name, "")]

    # -- structure ---------------------------------------------------------------------------

    def _check_object(
        self,
        fields: Sequence[FieldSpec],
        obj: Mapping[str, object],
        path: str,
        *,
        top_level: bool = False,
    ) -> list[_Violation]:
        noun = "parameter" if top_level else "field"
        known = {f.name: f for f in fields}
        violations = [
            _Violation(path, f"unknown {noun} {key!r}") for key in obj if key not in known
        ]
        for spec in fields:
            if spec.name not in obj or obj[spec.name] is None:
                if spec.required:
                    violations.append(_Violation(path, f"{noun} {spec.name!r} is required"))
                continue
            violations += self._check_alternatives(
                obj[spec.name], spec.types, _join(path, spec.name)
            )
        return violations

    def _check_alternatives(
        self, value: object, types: Sequence[str], path: str
    ) -> list[_Violation]:
        """A value with several allowed types is valid if any of them fits."""
        candidates = [t for t in types if self._kind_fits(value, t)]
        if not candidates:
            expected = " or ".join(types)
            return [_Violation(path, f"expected {expected}, got {_kind(value)}")]
        results = [(t, self._check_value(value, t, path)) for t in candidates]
        for _, violations in results:
            if not violations:
                return []
        if len(results) == 1:
            return results[0][1]

        # Several object types fit the value's kind: report against the one it is tagged as and
        # whose shape it matches (all keys known, all required present), with fewest problems.
        def rank(result: tuple[str, list[_Violation]]) -> tuple[int, int, int]:
            type_expr, violations = result
            mistagged = sum(v.wrong_union_member for v in violations)
            return (mistagged, not self._shape_fits(value, type_expr), len(violations))

        return min(results, key=rank)[1]

    def _check_tagged_union(
        self, value: object, members: Sequence[str], path: str
    ) -> list[_Violation] | None:
        """Pick the union member named by the value's type/status field, as Telegram does.

        None when the union is not tagged (e.g. RichText) or the value is not an object.
        """
        specs = [self.types.get(member) for member in members]
        tags = [spec.tag if spec is not None else None for spec in specs]
        keys = {tag[0] for tag in tags if tag is not None}
        if not isinstance(value, dict) or None in tags or len(keys) != 1:
            return None
        key = keys.pop()
        for member, tag in zip(members, tags, strict=True):
            if tag is not None and value.get(key) == tag[1]:
                return self._check_value(value, member, path)
        expected = ", ".join(repr(tag[1]) for tag in tags if tag is not None)
        return [
            _Violation(_join(path, key), f"expected one of {expected}, got {value.get(key)!r}")
        ]

    def _kind_fits(self, value: object, type_expr: str) -> bool:
        """Whether ``value`` is the right JSON kind for ``type_expr``, ignoring its contents."""
        if type_expr.startswith("Array of "):
            return isinstance(value, list | tuple)
        if type_expr == "Integer":
            return isinstance(value, int) and not isinstance(value, bool)
        if type_expr == "Float":
            return isinstance(value, int | float) and not isinstance(value, bool)
        if type_expr == "Boolean":
            return isinstance(value, bool)
        if type_expr == "String":
            return isinstance(value, str)
        if type_expr == "InputFile":
            # PTB points nested uploads (InputMedia etc.) at their multipart part this way.
            return isinstance(value, UploadedFile) or (
                isinstance(value, str) and value.startswith("attach://")
            )
        spec = self.types.get(type_expr)
        if spec is not None and spec.subtypes:
            return any(self._kind_fits(value, sub) for sub in spec.subtypes)
        return isinstance(value, dict)

    def _shape_fits(self, value: object, type_expr: str) -> bool:
        spec = self.types.get(type_expr)
        if spec is None or not isinstance(value, dict):
            return True
        if spec.subtypes:
            return any(self._shape_fits(value, sub) for sub in spec.subtypes)
        if spec.fields is None:
            return True
        names = {f.name for f in spec.fields}
        return set(value) <= names and all(f.name in value for f in spec.fields if f.required)

    def _check_value(self, value: object, type_expr: str, path: str) -> list[_Violation]:
        if not self._kind_fits(value, type_expr):
            return [_Violation(path, f"expected {type_expr}, got {_kind(value)}")]
        if type_expr.startswith("Array of "):
            assert isinstance(value, list | tuple)
            inner = type_expr.removeprefix("Array of ")
            violations: list[_Violation] = []
            for index, item in enumerate(value):
                violations += self._check_value(item, inner, f"{path}[{index}]")
            return violations
        if type_expr in _PRIMITIVES:
            return []
        spec = self.types.get(type_expr)
        if spec is None:
            return [_Violation(path, f"schema has no type {type_expr!r}")]
        if spec.subtypes:
            tagged = self._check_tagged_union(value, spec.subtypes, path)
            if tagged is not None:
                return tagged
            return self._check_alternatives(value, spec.subtypes, path)
        assert isinstance(value, dict)
        if spec.fields is None:
            return []  # Placeholder types such as CallbackGame carry no fields to check.
        violations = self._check_object(spec.fields, value, path)
        if spec.tag is not None and value.get(spec.tag[0]) != spec.tag[1]:
            violations.append(
                _Violation(
                    _join(path, spec.tag[0]),
                    f"must be {spec.tag[1]!r} for {spec.name}",
                    wrong_union_member=True,
                )
            )
        if not violations:
            check = self._type_checks.get(type_expr)
            if check is not None:
                violations += check(value, path)
            violations += self._check_formatting(value, path)
        return violations

    # -- Telegram limits ---------------------------------------------------------------------

    def _check_formatting(self, obj: Mapping[str, object], path: str) -> list[_Violation]:
        """parse_mode values must be known; HTML text must parse; captions fit 1024."""
        violations: list[_Violation] = []
        for mode_field, text_fields in _FORMATTED_FIELDS.items():
            mode = obj.get(mode_field)
            if not isinstance(mode, str) or mode == "":
                continue
            # Telegram lower-cases parse_mode itself, so "html" works in production too.
            if mode.lower() not in PARSE_MODES:
                violations.append(
                    _Violation(
                        _join(path, mode_field),
                        f"unsupported parse_mode {mode!r}; use HTML, Markdown or MarkdownV2",
                    )
                )
                continue
            if mode.lower() != "html":
                continue
            for text_field in text_fields:
                text = obj.get(text_field)
                if isinstance(text, str):
                    try:
                        parse_html(text)
                    except EntityParseError as exc:
                        violations.append(_Violation(_join(path, text_field), str(exc)))
        caption = obj.get("caption")
        if isinstance(caption, str):
            size = self._rendered_len(caption, obj.get("parse_mode"))
            if size is not None and size > _CAPTION_MAX:
                violations.append(
                    _Violation(
                        _join(path, "caption"),
                        f"message caption is too long ({size} characters, limit {_CAPTION_MAX})",
                    )
                )
        return violations

    @staticmethod
    def _rendered_len(text: str, parse_mode: object) -> int | None:
        """Characters after entity parsing; None if the markup is broken (reported elsewhere)."""
        try:
            plain, _ = render_text(text, parse_mode if isinstance(parse_mode, str) else None)
        except EntityParseError:
            return None
        return len(plain)

    def _check_length(
        self,
        obj: Mapping[str, object],
        key: str,
        limits: tuple[int, int, str],
        path: str,
    ) -> list[_Violation]:
        text = obj.get(key)
        if not isinstance(text, str):
            return []
        low, high, mode_field = limits
        size = self._rendered_len(text, obj.get(mode_field) if mode_field else None)
        if size is None:
            return []
        if size < low:
            return [_Violation(_join(path, key), "message text is empty")]
        if size > high:
            what = "message is too long" if low else "text is too long"
            return [_Violation(_join(path, key), f"{what} ({size} characters, limit {high})")]
        return []

    def _check_text_limit(self, method: str, params: Mapping[str, object]) -> list[_Violation]:
        limits = _TEXT_LIMITS.get(method)
        return [] if limits is None else self._check_length(params, "text", limits, "")

    def _check_message_text(self, obj: dict[str, Any], path: str) -> list[_Violation]:
        return self._check_length(obj, "message_text", _MESSAGE_TEXT_LIMITS, path)

    @staticmethod
    def _check_inline_button(button: dict[str, Any], path: str) -> list[_Violation]:
        violations: list[_Violation] = []
        if not button["text"]:
            violations.append(_Violation(_join(path, "text"), "button text must be non-empty"))
        data = button.get("callback_data")
        if isinstance(data, str):
            size = len(data.encode("utf-8"))
            low, high = _CALLBACK_DATA_BYTES
            if not low <= size <= high:
                violations.append(
                    _Violation(
                        _join(path, "callback_data"),
                        f"BUTTON_DATA_INVALID: callback_data must be {low}-{high} bytes, "
                        f"got {size}",
                    )
                )
        actions = [key for key in button if key not in _BUTTON_DECORATION]
        if len(actions) != 1:
            detail = (
                "Text buttons are unallowed in the inline keyboard"
                if not actions
                else f"exactly one action field allowed, got {', '.join(sorted(actions))}"
            )
            violations.append(_Violation(path, f"can't parse inline keyboard button: {detail}"))
        return violations

    @staticmethod
    def _check_keyboard_button(button: dict[str, Any], path: str) -> list[_Violation]:
        if button["text"]:
            return []
        return [_Violation(_join(path, "text"), "button text must be non-empty")]

    @staticmethod
    def _check_bot_command(command: dict[str, Any], path: str) -> list[_Violation]:
        violations: list[_Violation] = []
        if not _COMMAND_RE.fullmatch(command["command"]):
            violations.append(
                _Violation(
                    _join(path, "command"),
                    "BOT_COMMAND_INVALID: 1-32 characters of a-z, 0-9 and _",
                )
            )
        if not 1 <= len(command["description"]) <= 256:
            violations.append(
                _Violation(_join(path, "description"), "description must be 1-256 characters")
            )
        return violations
