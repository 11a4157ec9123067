"""The one base for wire models: frozen, strict, and closed to unknown members."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class WireModel(BaseModel):
    """Base of every model parsed from or written to the wire."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")


class SignedWireModel(WireModel):
    """Base of models parsed from a signed object *after* its signature was verified.

    Unknown members are ignored rather than refused: the signature already covered them, and
    within a protocol version new members may be added (docs/protocol.md, versioning), so an
    older node must still accept a newer node's objects.
    """

    model_config = ConfigDict(frozen=True, strict=True, extra="ignore")
