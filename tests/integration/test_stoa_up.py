"""`stoa up` as a newcomer runs it: a real process on the embedded defaults (SQLite in a
fresh data dir), its demo upstreams on loopback, and the demo it seeds."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from support.servers import free_port

# Two full start-ups of the platform, each a fresh process; slow on a loaded machine.
pytestmark = pytest.mark.timeout(300)

STOA = str(Path(sys.executable).parent / "stoa")


@dataclass
class Up:
    url: str
    banner: str
    data_dir: Path
    env: dict[str, str]

    def field(self, label: str) -> str:
        """The first word after `label` on its banner line."""
        for line in self.banner.splitlines():
            if line.strip().startswith(label):
                return line.strip()[len(label) :].split()[0]
        raise AssertionError(f"{label!r} not in the banner:\n{self.banner}")

    def token(self, email: str) -> str:
        done = subprocess.run(
            [STOA, "admin", "token", "--user", email],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout.strip()

    def client(self, email: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token(email)}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)


@contextmanager
def _running_up(data_dir: Path) -> Iterator[Up]:
    port, weather, toolbox, gateway = free_port(), free_port(), free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STOA_")},
        "STOA_DATA_DIR": str(data_dir),
        "STOA_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    command = [STOA, "up", "--port", str(port), "--weather-port", str(weather)]
    command += ["--toolbox-port", str(toolbox), "--gateway-port", str(gateway)]
    lines: list[str] = []
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        output = process.stdout
        assert output is not None
        reader = threading.Thread(target=lambda: lines.extend(output), daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + 60
            while not any("stop with Ctrl+C" in line for line in lines):
                assert process.poll() is None, "stoa up exited early:\n" + "".join(lines)
                assert time.monotonic() < deadline, "no banner in 60 s:\n" + "".join(lines)
                time.sleep(0.1)
            yield Up(f"http://127.0.0.1:{port}", "".join(lines), data_dir, env)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                code = process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                raise
            reader.join(timeout=5)
    assert code == 0, "stoa up did not stop cleanly on Ctrl+C:\n" + "".join(lines)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_stoa_up_serves_a_seeded_demo_and_keeps_its_logins_across_restarts(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "stoa-data"
    with _running_up(data_dir) as up:
        admin_password, developer_password, api_key = _check_first_run(up, data_dir)

    with _running_up(data_dir) as again:
        assert again.field("admin           admin@demo.local /") == admin_password
        assert again.field("developer       dev@demo.local /") == developer_password
        assert again.field("demo API key") == api_key
        with again.client("dev@demo.local") as developer:
            assert len(developer.get("/v1/subscriptions").json()["items"]) == 2
            [application] = developer.get("/v1/applications").json()["items"]
            keys = developer.get(f"/v1/applications/{application['id']}/keys").json()["items"]
            assert len(keys) == 1


def _check_first_run(up: Up, data_dir: Path) -> tuple[str, str, str]:
    """What a newcomer sees after the first `stoa up`; returns the logins and key."""
    assert f"control plane   {up.url}" in up.banner
    admin_password = up.field("admin           admin@demo.local /")
    developer_password = up.field("developer       dev@demo.local /")
    api_key = up.field("demo API key")
    assert api_key.startswith("stoa_sk_")

    assert _mode(data_dir) == 0o700
    demo_env = (data_dir / "demo.env").read_text()
    assert _mode(data_dir / "demo.env") == 0o600
    assert f"STOA_DEMO_ADMIN_PASSWORD={admin_password}" in demo_env
    assert f"STOA_DEMO_DEVELOPER_PASSWORD={developer_password}" in demo_env
    assert f"STOA_DEMO_API_KEY={api_key}" in demo_env

    with up.client("dev@demo.local") as developer:
        catalog = developer.get("/v1/catalog").json()["items"]
        assert {(entry["tenant"], entry["name"]) for entry in catalog} == {
            ("demo", "weather"),
            ("demo", "toolbox"),
        }
        tools = {entry["name"]: {t["name"] for t in entry["tools"]} for entry in catalog}
        assert {"getForecast", "createAlert"} <= tools["weather"]
        assert {"echo", "add"} <= tools["toolbox"]  # discovered from the running MCP server

        subscriptions = developer.get("/v1/subscriptions").json()["items"]
        assert sorted((s["api"]["name"], s["status"]) for s in subscriptions) == [
            ("toolbox", "active"),
            ("weather", "active"),
        ]
        [application] = developer.get("/v1/applications").json()["items"]
        keys = developer.get(f"/v1/applications/{application['id']}/keys").json()["items"]
        assert [key["prefix"] for key in keys] == [api_key[: len(keys[0]["prefix"])]]
        assert all(api_key not in str(key) for key in keys)

    with up.client("admin@demo.local") as admin:
        audit = admin.get("/v1/audit", params={"action": "api.create"}).json()["items"]
        # Seeded through the services, as the demo admin: the audit log tells the story.
        assert sorted((e["actor_label"], e["after"]["name"]) for e in audit) == [
            ("admin@demo.local", "toolbox"),
            ("admin@demo.local", "weather"),
        ]
    return admin_password, developer_password, api_key
