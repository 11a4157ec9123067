"""``mentornet serve`` as a real process: first start creates a node, SIGTERM shuts down cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from node.local import free_port


def _wait_for(url: str, process: subprocess.Popen[str], timeout: float = 30.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (loopback only)
                return dict(json.load(response))
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def test_serve_creates_a_node_on_first_start_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--data-dir", str(data_dir), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "MENTORNET_HOME": ""},
        cwd=Path(__file__).parents[2],
    )
    try:
        health = _wait_for(f"http://127.0.0.1:{port}/healthz", process)
        assert health == {"status": "ok", "database": "ok"}
        document = _wait_for(f"http://127.0.0.1:{port}/.well-known/mentornet", process)
        assert document["base_url"] == f"http://127.0.0.1:{port}"
        assert (data_dir / "node.db-wal").exists()
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert f"key file:    {data_dir / 'node.key'}" in stdout
    assert "Created node" in stdout and str(data_dir) in stdout
    events = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert [e["event"] for e in events if e["event"] in ("node started", "shutting down", "node stopped")] == [
        "node started",
        "shutting down",
        "node stopped",
    ]
    assert not (data_dir / "node.db-wal").exists(), "the database was not closed cleanly"
    assert (data_dir / "node.key").stat().st_mode & 0o777 == 0o600
