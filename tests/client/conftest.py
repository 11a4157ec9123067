"""Two peered nodes with a mentee at A and a mentor at B, for the member client's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from client.member import MemberClient
from tests.client.test_member import member_at
from tests.node.federation.cluster import RunningNode, peered_cluster


@pytest.fixture
async def two_nodes(tmp_path: Path) -> AsyncIterator[list[RunningNode]]:
    async with peered_cluster(tmp_path, ["A", "B"]) as nodes:
        yield nodes


@pytest.fixture
async def pair(two_nodes: list[RunningNode], tmp_path: Path) -> tuple[MemberClient, MemberClient]:
    """A mentee registered at node A and a mentor at node B."""
    a, b = two_nodes
    return await member_at(a, "Mina", "mentee", tmp_path), await member_at(b, "Carlos", "mentor", tmp_path)
