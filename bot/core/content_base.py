"""The shared building blocks of the content models: strict models and identifiers."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Ident = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=40)]
Phrase = Annotated[str, Field(min_length=1, max_length=80)]


class Strict(BaseModel):
    """Content models refuse unknown fields, so a typo is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid", frozen=True)
