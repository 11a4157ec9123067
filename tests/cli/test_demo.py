"""``mentornet demo``: three real nodes, one mentorship end to end, and no plaintext on any node."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]


async def mentornet(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "MENTORNET_KEYSTORE": "", "MENTORNET_CLIENT_PASSPHRASE_FILE": ""},
    )


async def test_the_demo_walks_a_mentorship_and_finds_no_plaintext_on_the_nodes(tmp_path: Path) -> None:
    process = await mentornet("demo", "--json", "--data-dir", str(tmp_path / "demo"))
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err
    result = json.loads(out)
    titles = [step["title"] for step in result["steps"]]
    assert len(titles) == 10 and titles[-1].startswith("Privacy check")
    assert result["privacy"]["found"] == [] and result["privacy"]["texts"] >= 8 and result["privacy"]["files"] >= 9
    by_number = {step["step"]: step for step in result["steps"]}
    assert by_number[4]["results"][0] == "Carlos Ortega"
    assert by_number[8]["goals_converged"] is True
    assert by_number[9]["file_intact"] is True
    assert "DTSTART;TZID=Europe/London" in await asyncio.to_thread(Path(by_number[7]["ics"]).read_text)


async def test_keep_running_leaves_usable_nodes_until_interrupted(tmp_path: Path) -> None:
    process = await mentornet("demo", "--json", "--keep-running", "--data-dir", str(tmp_path / "demo"))
    assert process.stdout is not None
    text = ""
    while True:  # the JSON document, printed before the demo waits
        line = await asyncio.wait_for(process.stdout.readline(), 120)
        assert line, "the demo ended early"
        text += line.decode()
        try:
            running = json.loads(text)["running"]
            break
        except ValueError:
            continue
    async with aiohttp.ClientSession() as session:
        for node in running["nodes"]:
            async with session.get(node["url"] + "/healthz") as response:
                assert response.status == 200
    mina = next(m for m in running["members"] if m["name"] == "Mina Okafor")
    requests = await mentornet(
        "client", "requests", "--json", "--keystore", mina["keystore"], "--passphrase-file", mina["passphrase_file"]
    )
    out, err = await requests.communicate()
    assert requests.returncode == 0, err
    assert [item["state"] for item in json.loads(out)] == ["active"]

    process.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(process.wait(), 30) == 0
