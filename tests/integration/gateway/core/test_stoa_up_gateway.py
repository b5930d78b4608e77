"""`stoa up` starts a synced gateway beside the control plane, serving the demo it seeded:
its snapshot comes from the control plane, changes reach it, and its usage is counted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from support.servers import free_port

STOA = str(Path(sys.executable).parent / "stoa")


def test_demo_key_reaches_the_weather_api_through_the_gateway(tmp_path: Path) -> None:
    port, gateway_port, weather, toolbox = free_port(), free_port(), free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STOA_")},
        "STOA_DATA_DIR": str(tmp_path / "data"),
        "STOA_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "STOA_GATEWAY__ACCESS_LOG": "false",
    }
    command = [STOA, "up", "--port", str(port), "--gateway-port", str(gateway_port)]
    command += ["--weather-port", str(weather), "--toolbox-port", str(toolbox)]
    lines: list[str] = []
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        output = process.stdout
        assert output is not None
        threading.Thread(target=lambda: lines.extend(output), daemon=True).start()
        try:
            deadline = time.monotonic() + 90
            while not any("stop with Ctrl+C" in line for line in lines):
                assert process.poll() is None, "stoa up exited early:\n" + "".join(lines)
                assert time.monotonic() < deadline, "no banner:\n" + "".join(lines)
                time.sleep(0.1)
            gateway = f"http://127.0.0.1:{gateway_port}"
            banner = "".join(lines)
            assert f"gateway         {gateway}" in banner
            demo_env = dict(
                line.split("=", 1)
                for line in (tmp_path / "data" / "demo.env").read_text().splitlines()
                if "=" in line
            )
            key = demo_env["STOA_DEMO_API_KEY"]
            response = httpx.get(
                f"{gateway}/proxy/demo/weather/forecast",
                params={"city": "Lisbon"},
                headers={"Authorization": f"Bearer {key}"},
                timeout=10,
            )
            assert response.status_code == 200, response.text
            assert response.json()["city"] == "Lisbon"
            refused = httpx.get(f"{gateway}/proxy/demo/weather/forecast?city=Lisbon", timeout=10)
            assert refused.status_code == 401
            snapshot_file = tmp_path / "data" / "gateway" / "synced-snapshot"
            assert snapshot_file.stat().st_mode & 0o077 == 0
            assert key not in snapshot_file.read_text()
            assert (tmp_path / "data" / "embedded-gateway-token").stat().st_mode & 0o077 == 0

            # The gateway is synced: its usage reaches the control plane's charts, and a
            # change made through the API reaches the gateway.
            control_plane = f"http://127.0.0.1:{port}"
            token = subprocess.run(
                [STOA, "admin", "token", "--user", demo_env["STOA_DEMO_DEVELOPER_EMAIL"]],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            with httpx.Client(
                base_url=control_plane, headers={"Authorization": f"Bearer {token}"}
            ) as developer:

                def weather_calls() -> int:
                    usage = developer.get("/v1/usage", params={"granularity": "day"})
                    assert usage.status_code == 200, usage.text
                    return sum(row["count"] for row in usage.json()["items"])

                _eventually(lambda: weather_calls() == 1, "the call is counted in /v1/usage")
                application = demo_env["STOA_DEMO_APPLICATION_ID"]
                keys = developer.get(f"/v1/applications/{application}/keys").json()["items"]
                (active,) = [k for k in keys if k["status"] == "active"]
                revoked = developer.post(
                    f"/v1/applications/{application}/keys/{active['id']}/revoke"
                )
                assert revoked.status_code == 200, revoked.text
                _eventually(
                    lambda: (
                        httpx.get(
                            f"{gateway}/proxy/demo/weather/forecast?city=Lisbon",
                            headers={"Authorization": f"Bearer {key}"},
                        ).status_code
                        == 401
                    ),
                    "the revoked demo key is refused by the gateway",
                )
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _eventually(check: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(0.1)
