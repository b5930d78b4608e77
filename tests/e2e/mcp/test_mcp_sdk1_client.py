"""The 1.x MCP Python SDK (the `initialize` generation as most agents ship it today),
installed from PyPI into its own venv, against the running gateway."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from support.gateway_mcp import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

UV = Path(__file__).resolve().parents[3] / ".tools" / "bin" / "uv"
CLIENT = Path(__file__).with_name("sdk1_client.py")


@pytest.fixture(scope="module")
def sdk1_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not UV.exists():
        pytest.skip("needs the pinned uv in .tools (make install)")
    venv = tmp_path_factory.mktemp("mcp1") / "venv"
    env = {**os.environ, "UV_PYTHON": "python3.11", "VIRTUAL_ENV": str(venv)}
    env.pop("UV_PROJECT_ENVIRONMENT", None)
    subprocess.run([str(UV), "venv", "-q", str(venv)], env=env, check=True, timeout=120)
    installed = subprocess.run(
        [str(UV), "pip", "install", "-q", "mcp>=1.20,<2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if installed.returncode != 0:
        pytest.skip(f"could not install mcp 1.x from PyPI: {installed.stderr[-500:]}")
    return venv / "bin" / "python"


def test_the_1x_sdk_runs_a_whole_session_through_the_gateway(
    stack: Stack, sdk1_python: Path
) -> None:
    done = subprocess.run(
        [str(sdk1_python), str(CLIENT), stack.url, stack.key],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["version"] == "2025-11-25"
    assert seen["session"] is True
    assert seen["tools"] == [
        "toolbox__add",
        "toolbox__echo",
        "toolbox__fail",
        "weather__createAlert",
        "weather__getForecast",
    ]
    assert seen["echo"] == "from 1.x"
    assert seen["city"] == "Oslo"
    assert seen["failed"] is True
    assert seen["resources"] == ["toolbox+toolbox://readme"]
    assert "Ada" in seen["prompt"]
