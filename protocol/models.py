"""The one base for wire models: frozen, strict, and closed to unknown members."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class WireModel(BaseModel):
    """Base of every model parsed from or written to the wire."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")
