"""Telegram's message formatting rules: the HTML subset parser and text measuring helpers.

Telegram turns ``parse_mode="HTML"`` text into plain text plus entities and rejects the whole
request with "can't parse entities" if the markup is not in its subset. The sandbox does the same
so that a bot which forgets :func:`html.escape` fails in tests, not in production.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ALLOWED_TAGS",
    "EntityParseError",
    "parse_html",
    "trim_entities",
    "utf16_len",
]

ALLOWED_TAGS = frozenset(
    {
        "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
        "a", "code", "pre", "blockquote", "tg-emoji",
    }
)  # fmt: skip

_ENTITY_TYPE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "a": "text_link",
    "tg-emoji": "custom_emoji",
}

# Telegram documents exactly these named entities plus every numeric one.
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]+));")
_NAME_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9-]*")
_ATTR_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:.-]*")


class EntityParseError(ValueError):
    """The text is not valid Telegram HTML; the message mirrors Telegram's wording."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram uses for entity offsets."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _OpenTag:
    name: str
    attrs: dict[str, str]
    offset: int  # UTF-16 offset in the plain output where the tag's content starts
    extra: dict[str, Any] = field(default_factory=dict)


class _HtmlParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.out: list[str] = []
        self.out_len = 0
        self.stack: list[_OpenTag] = []
        self.entities: list[dict[str, Any]] = []

    def byte_offset(self, index: int) -> int:
        return len(self.text[:index].encode("utf-8"))

    def fail(self, message: str) -> EntityParseError:
        return EntityParseError(f"can't parse entities: {message}")

    def emit(self, chunk: str) -> None:
        self.out.append(chunk)
        self.out_len += utf16_len(chunk)

    def run(self) -> tuple[str, list[dict[str, Any]]]:
        text = self.text
        i = 0
        while i < len(text):
            char = text[i]
            if char == "<":
                i = self.tag(i)
            elif char == "&":
                i = self.entity(i)
            elif char == ">":
                raise self.fail(
                    f'Unescaped ">" at byte offset {self.byte_offset(i)}; write "&gt;"'
                )
            else:
                # Copy the run of ordinary characters in one go.
                j = i + 1
                while j < len(text) and text[j] not in "<>&":
                    j += 1
                self.emit(text[i:j])
                i = j
        if self.stack:
            raise self.fail(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"'
            )
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.out), self.entities

    def entity(self, i: int) -> int:
        match = _ENTITY_RE.match(self.text, i)
        if match is None:
            raise self.fail(f'Unescaped "&" at byte offset {self.byte_offset(i)}; write "&amp;"')
        self.emit(self.decode_entity(match, i))
        return match.end()

    def decode_entity(self, match: re.Match[str], i: int) -> str:
        dec, hexa, name = match.groups()
        if name is not None:
            if name not in _NAMED_ENTITIES:
                raise self.fail(
                    f'Unsupported HTML entity "&{name};" at byte offset {self.byte_offset(i)}'
                )
            return _NAMED_ENTITIES[name]
        code = int(dec) if dec is not None else int(hexa, 16)
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise self.fail(f"Invalid character reference at byte offset {self.byte_offset(i)}")
        return chr(code)

    def decode_attr(self, value: str, base: int) -> str:
        def replace(match: re.Match[str]) -> str:
            return self.decode_entity(match, base + match.start())

        return _ENTITY_RE.sub(replace, value)

    def tag(self, start: int) -> int:
        text = self.text
        i = start + 1
        closing = i < len(text) and text[i] == "/"
        if closing:
            i += 1
        match = _NAME_RE.match(text, i)
        if match is None:
            raise self.fail(
                f'Unescaped "<" at byte offset {self.byte_offset(start)}; write "&lt;"'
            )
        name = match.group().lower()
        i = match.end()
        if closing:
            while i < len(text) and text[i].isspace():
                i += 1
            if i >= len(text) or text[i] != ">":
                raise self.fail(f"Unclosed end tag at byte offset {self.byte_offset(start)}")
            self.close(name, start)
            return i + 1
        if name not in ALLOWED_TAGS:
            raise self.fail(
                f'Unsupported start tag "{name}" at byte offset {self.byte_offset(start)}'
            )
        attrs, i = self.attributes(name, i, start)
        self.open(name, attrs, start)
        return i

    def attributes(self, tag: str, i: int, start: int) -> tuple[dict[str, str], int]:
        text = self.text
        attrs: dict[str, str] = {}
        while True:
            while i < len(text) and text[i].isspace():
                i += 1
            if i >= len(text):
                raise self.fail(f"Unclosed start tag at byte offset {self.byte_offset(start)}")
            if text[i] == ">":
                return attrs, i + 1
            match = _ATTR_NAME_RE.match(text, i)
            if match is None:
                raise self.fail(
                    f'Empty attribute name in the tag "{tag}" '
                    f"at byte offset {self.byte_offset(start)}"
                )
            attr = match.group().lower()
            i = match.end()
            while i < len(text) and text[i].isspace():
                i += 1
            if i < len(text) and text[i] == "=":
                i += 1
                while i < len(text) and text[i].isspace():
                    i += 1
                if i < len(text) and text[i] in "\"'":
                    end = text.find(text[i], i + 1)
                    if end == -1:
                        raise self.fail(
                            f'Unclosed end of attribute value in the tag "{tag}" '
                            f"at byte offset {self.byte_offset(start)}"
                        )
                    attrs[attr] = self.decode_attr(text[i + 1 : end], i + 1)
                    i = end + 1
                else:
                    j = i
                    while j < len(text) and not text[j].isspace() and text[j] != ">":
                        j += 1
                    attrs[attr] = self.decode_attr(text[i:j], i)
                    i = j
            else:
                # Valueless attributes are legal, e.g. <blockquote expandable>.
                attrs[attr] = ""

    def open(self, name: str, attrs: dict[str, str], start: int) -> None:
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise self.fail(
                f'Tag "span" must have class "tg-spoiler" at byte offset {self.byte_offset(start)}'
            )
        if name == "tg-emoji" and not attrs.get("emoji-id"):
            raise self.fail(
                f'Tag "tg-emoji" must have attribute "emoji-id" '
                f"at byte offset {self.byte_offset(start)}"
            )
        self.stack.append(_OpenTag(name, attrs, self.out_len))

    def close(self, name: str, start: int) -> None:
        if not self.stack:
            raise self.fail(
                f'Unexpected end tag "{name}" at byte offset {self.byte_offset(start)}'
            )
        tag = self.stack.pop()
        if tag.name != name:
            raise self.fail(
                f"Unmatched end tag at byte offset {self.byte_offset(start)}, "
                f'expected "</{tag.name}>", found "</{name}>"'
            )
        length = self.out_len - tag.offset
        language = tag.attrs.get("class", "")
        if (
            name == "code"
            and self.stack
            and self.stack[-1].name == "pre"
            and language.startswith("language-")
        ):
            # <pre><code class="language-x"> is one pre entity with a language, not two.
            self.stack[-1].extra["language"] = language.removeprefix("language-")
            return
        if length == 0:
            return  # Telegram silently drops empty entities.
        entity: dict[str, Any] = {
            "type": _ENTITY_TYPE[name],
            "offset": tag.offset,
            "length": length,
        }
        if name == "a":
            if not tag.attrs.get("href"):
                return
            entity["url"] = tag.attrs["href"]
        elif name == "tg-emoji":
            entity["custom_emoji_id"] = tag.attrs["emoji-id"]
        elif name == "blockquote" and "expandable" in tag.attrs:
            entity["type"] = "expandable_blockquote"
        elif name == "pre" and "language" in tag.extra:
            entity["language"] = tag.extra["language"]
        self.entities.append(entity)


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML into ``(plain_text, entities)``; raise :class:`EntityParseError`.

    Stricter than Telegram's server in one respect, as documented in the Bot API: a bare ``&``
    or ``>`` outside a tag is an error rather than being passed through.
    """
    return _HtmlParser(text).run()


def trim_entities(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Strip surrounding whitespace the way Telegram does, shifting and clipping entities."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    size = utf16_len(stripped)
    trimmed: list[dict[str, Any]] = []
    for entity in entities:
        start = max(0, entity["offset"] - lead)
        end = min(size, entity["offset"] + entity["length"] - lead)
        if end > start:
            trimmed.append({**entity, "offset": start, "length": end - start})
    return stripped, trimmed
