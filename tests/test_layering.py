"""The dependency direction cli -> node -> protocol -> crypto holds: the pure layers import no I/O."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
LAYERS = ["crypto", "protocol", "node", "cli"]


def test_importing_protocol_and_crypto_loads_no_web_server_database_or_node_code() -> None:
    probe = (
        "import sys, crypto, protocol, protocol.node_document, protocol.member, protocol.audit, protocol.signed; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('aiohttp', 'sqlmodel', 'sqlalchemy', 'node', 'cli', 'click', 'asyncio')))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]"


def _imports_of(package: str, forbidden: set[str]) -> list[str]:
    offenders = []
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [
                f"{path.relative_to(ROOT)} imports {name}" for name in names if name.split(".")[0] in forbidden
            ]
    return offenders


@pytest.mark.parametrize("layer", LAYERS)
def test_no_package_imports_a_layer_above_it(layer: str) -> None:
    above = set(LAYERS[LAYERS.index(layer) + 1 :]) | ({"client"} if layer != "cli" else set())
    assert _imports_of(layer, above) == []


def test_the_member_client_uses_only_the_protocol_and_crypto_never_node_code() -> None:
    assert _imports_of("client", {"node", "cli"}) == []


def test_node_never_imports_click() -> None:
    for path in (ROOT / "node").rglob("*.py"):
        assert "import click" not in path.read_text(encoding="utf-8"), path
