"""The OpenAPI 3.1 description of the client API, served at ``GET /client/v1/openapi.json``.

A test checks that every route the node registers under ``/client/v1`` is described here and
that nothing described is missing from the node.
"""

from __future__ import annotations

from typing import Any

_BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
_ERROR = {
    "description": "An error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_ERRORS = {
    "400": _ERROR,
    "401": {
        "description": "Missing or invalid access token",
        **{k: v for k, v in _ERROR.items() if k != "description"},
    },
    "429": {"description": "More requests a minute than the node allows", "content": _ERROR["content"]},
}


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required or list(properties)}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _op(summary: str, response: dict[str, Any], *, body: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "security": _BEARER, "responses": {"200": response, **_ERRORS}}
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    operation.update(extra)
    return operation


_TEXT = {"type": "string"}
_B64 = {"type": "string", "description": "unpadded base64url"}
_COUNTS = _object(
    {"device": _TEXT, "one_time_prekeys": {"type": "object", "additionalProperties": {"type": "integer"}}}
)
_DEVICE = [{"name": "device", "in": "path", "required": True, "schema": _TEXT}]
_INTEGER = {"type": "integer"}
_ROLE = {"type": "string", "enum": ["mentee", "mentor"]}
_BLOCK = _object({"origin": _TEXT, "sender": _TEXT, "created_at": _INTEGER})
_REQUEST_ID = [{"name": "request_id", "in": "path", "required": True, "schema": _TEXT}]
_MENTORSHIP = _object(
    {
        "request_id": _TEXT,
        "role": _ROLE,
        "state": _TEXT,
        "duration_weeks": _INTEGER,
        "created_at": _INTEGER,
        "expires_at": _INTEGER,
        "updated_at": _INTEGER,
        "answered_at": {"type": ["integer", "null"]},
        "sessions_held": _INTEGER,
    }
)

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Mentornet client API",
        "version": "1",
        "description": "Member clients talk to their home node. Messages are sealed end to end; the node "
        "stores and relays ciphertext only. See docs/protocol.md.",
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": _object({"error": _TEXT, "message": _TEXT}),
            "PreKey": _object(
                {
                    "kind": {"enum": ["x25519", "mlkem768"]},
                    "id": {"type": "integer"},
                    "public_key": _B64,
                    "signature": _B64,
                }
            ),
        },
    },
    "paths": {
        "/client/v1/openapi.json": {
            "get": {"summary": "This document", "security": [], "responses": {"200": _json({"type": "object"})}}
        },
        "/client/v1/register": {
            "post": {
                "summary": "Redeem an invite code for an access token (the node keeps only its hash)",
                "security": [],
                "requestBody": {"content": {"application/json": {"schema": _object({"invite_code": _TEXT})}}},
                "responses": {
                    "201": _json(_object({"member_id": _TEXT, "access_token": _TEXT, "token_type": _TEXT}), "Created"),
                    "403": _ERROR,
                },
            }
        },
        "/client/v1/me/availability": {
            "put": _op(
                "Publish the mentor's availability (signed by the node, announced to peers)",
                _json(_object({"announcement": {"type": "object"}})),
                body=_object(
                    {"availability": {"type": "object"}, "lifetime_days": {"type": "integer"}}, ["availability"]
                ),
            ),
            "delete": _op("Withdraw the mentor's availability", _json(_object({"announcement": {"type": "object"}}))),
        },
        "/client/v1/mentors": {
            "get": _op(
                "Search mentors on this node's index (the query never leaves the node)",
                _json(_object({"results": {"type": "array"}, "count": {"type": "integer"}})),
                parameters=[
                    {"name": name, "in": "query", "required": False, "schema": _TEXT}
                    for name in ("topic", "language", "timezone", "window", "institution", "include_full", "limit")
                ],
            )
        },
        "/client/v1/groups": {
            "get": _op(
                "Upcoming group sessions announced across the federation, soonest first",
                _json(_object({"groups": {"type": "array"}, "count": _INTEGER})),
                parameters=[
                    {"name": name, "in": "query", "required": False, "schema": _TEXT} for name in ("topic", "limit")
                ],
            )
        },
        "/client/v1/me/devices/{device}": {
            "put": _op(
                "Register a device: signed device list and signed pre-keys (public halves only)",
                _json(_COUNTS),
                body=_object(
                    {
                        "device_list": {"type": "object"},
                        "identity_dh": {"$ref": "#/components/schemas/PreKey"},
                        "signed_prekey": {"$ref": "#/components/schemas/PreKey"},
                        "pq_prekey": {"$ref": "#/components/schemas/PreKey"},
                        "one_time_prekeys": {"type": "array", "items": {"$ref": "#/components/schemas/PreKey"}},
                    }
                ),
                parameters=_DEVICE,
            )
        },
        "/client/v1/me/devices/{device}/prekeys": {
            "post": _op(
                "Upload more one-time pre-keys",
                _json(_COUNTS),
                body=_object({"one_time_prekeys": {"type": "array", "items": {"$ref": "#/components/schemas/PreKey"}}}),
                parameters=_DEVICE,
            ),
            "get": _op("Count the unused one-time pre-keys", _json(_COUNTS), parameters=_DEVICE),
        },
        "/client/v1/keys": {
            "get": _op(
                "A member's device list and key bundles, each one-time pre-key handed out once",
                _json(
                    _object(
                        {
                            "node": _TEXT,
                            "member": _TEXT,
                            "device_list": {"type": "object"},
                            "bundles": {"type": "array"},
                        }
                    )
                ),
                parameters=[
                    {"name": "node", "in": "query", "required": False, "schema": _TEXT},
                    {"name": "member", "in": "query", "required": True, "schema": _TEXT},
                    {"name": "bundles", "in": "query", "required": False, "schema": {"enum": ["true", "false"]}},
                ],
            )
        },
        "/client/v1/messages": {
            "post": _op(
                "Send up to 100 sealed messages (delivered locally or queued for the recipient's node)",
                _json(_object({"results": {"type": "array"}})),
                body=_object({"messages": {"type": "array", "maxItems": 100}}),
            ),
            "get": _op(
                "Receive a device's sealed messages, oldest first (long poll with wait, at most 30 s); "
                "each with the sender's opaque handle and home node, to block by",
                _json(
                    _object(
                        {
                            "messages": {
                                "type": "array",
                                "items": _object(
                                    {
                                        "id": _TEXT,
                                        "ciphertext": _TEXT,
                                        "received_at": _INTEGER,
                                        "sender": _TEXT,
                                        "origin": _TEXT,
                                    }
                                ),
                            }
                        }
                    )
                ),
                parameters=[
                    {"name": "device", "in": "query", "required": True, "schema": _TEXT},
                    {"name": "wait", "in": "query", "required": False, "schema": {"type": "number"}},
                    {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer"}},
                ],
            ),
        },
        "/client/v1/messages/ack": {
            "post": _op(
                "Acknowledge received messages: the node deletes them",
                _json(_object({"acknowledged": {"type": "integer"}})),
                body=_object({"device": _TEXT, "ids": {"type": "array", "items": _TEXT}}),
            )
        },
        "/client/v1/blocks": {
            "get": _op(
                "The senders this member blocked (origin node and handle)",
                _json(_object({"blocks": {"type": "array", "items": _BLOCK}})),
            ),
            "post": _op(
                "Block a sender by the origin and handle their messages came with; drops what waits from them",
                _json(_object({"blocked": {"type": "boolean"}, "dropped": _INTEGER}), "Blocked"),
                body=_object({"origin": _TEXT, "sender": _TEXT}),
            ),
            "delete": _op(
                "Unblock a sender",
                _json(_object({"unblocked": {"type": "boolean"}})),
                body=_object({"origin": _TEXT, "sender": _TEXT}),
            ),
        },
        "/client/v1/reports": {
            "post": _op(
                "Report a member to their home node's operator, with the evidence you choose to reveal",
                _json(_object({"report_id": _TEXT, "node": _TEXT}), "Delivered to the member's home node"),
                body=_object(
                    {
                        "node": _TEXT,
                        "member": _TEXT,
                        "reason": _TEXT,
                        "evidence": {"type": "array", "maxItems": 20, "items": {"type": "object"}},
                        "reporter": {"type": ["string", "null"]},
                    },
                    ["node", "member", "reason"],
                ),
            )
        },
        "/client/v1/blobs": {
            "post": {
                "summary": "Keep a shared file's ciphertext (raw body, at most 10 MiB + 29 bytes); "
                "413 too_large, 507 quota_exceeded",
                "security": _BEARER,
                "requestBody": {
                    "required": True,
                    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
                },
                "responses": {"201": _json(_object({"id": _TEXT, "size": _INTEGER}), "Kept"), **_ERRORS},
            }
        },
        "/client/v1/blobs/{blob}": {
            "get": _op(
                "A chunk (at most 2 MiB, base64url) of a shared file kept here or at the peer named by node",
                _json(_object({"id": _TEXT, "size": _INTEGER, "offset": _INTEGER, "data": _TEXT})),
                parameters=[
                    {"name": "blob", "in": "path", "required": True, "schema": _TEXT},
                    {"name": "node", "in": "query", "required": False, "schema": _TEXT},
                    {"name": "offset", "in": "query", "required": False, "schema": _INTEGER},
                ],
            ),
            "delete": _op(
                "Delete one of your shared files",
                _json(_object({"deleted": {"type": "boolean"}})),
                parameters=[{"name": "blob", "in": "path", "required": True, "schema": _TEXT}],
            ),
        },
        "/client/v1/mentorships": {
            "get": _op(
                "This member's side of their mentorship requests (state and times only)",
                _json(_object({"mentorships": {"type": "array", "items": _MENTORSHIP}})),
            ),
            "post": _op(
                "Record a request the member makes (mentee; capped open requests) or received (mentor)",
                _json(_MENTORSHIP, "Recorded (or already recorded)"),
                body=_object(
                    {"request_id": _TEXT, "role": _ROLE, "duration_weeks": _INTEGER, "expires_at": _INTEGER},
                    ["request_id", "role", "duration_weeks"],
                ),
            ),
        },
        "/client/v1/mentorships/{request_id}/moves": {
            "post": _op(
                "Apply a move made by the member or reported by them for the other member; "
                "409 no_open_place when a mentor has no place left",
                _json(_MENTORSHIP),
                body=_object(
                    {
                        "action": {
                            "type": "string",
                            "enum": ["view", "accept", "decline", "withdraw", "complete", "cancel"],
                        },
                        "by": _ROLE,
                    }
                ),
                parameters=_REQUEST_ID,
            )
        },
        "/client/v1/mentorships/{request_id}/sessions": {
            "post": _op(
                "Count one session held in an active mentorship (a number; no time, no content)",
                _json(_MENTORSHIP),
                parameters=_REQUEST_ID,
            )
        },
    },
}
