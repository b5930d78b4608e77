"""`python -m bench.sync_latency`: how long a change made through the control plane API
takes to reach every worker of a running gateway. Run by hand, never from `make test`.

Seeds a scratch database (`bench.snapshot_seed`, SQLite by default or `--database-url`),
starts a real `stoa control-plane` and a real `stoa gateway --workers N` kept current by
it (`STOA_CONTROL_PLANE_URL`, `STOA_GATEWAY_TOKEN`, a data dir of its own), then
`--changes` times: revokes one API key with `POST /v1/applications/{app}/keys/{key}/revoke`
as a platform admin and polls the gateway with that key, a fresh connection per request so
that every worker answers in turn, until it is refused (401) `STREAK` times in a row. The
latency of a change runs from sending the revoke to the first refusal of that streak. The
APIs' upstream is the control plane itself (a 404 page), so an accepted key is any answer
but 401.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench.processes import Processes, free_port, harness_run
from bench.snapshot_seed import (
    add_size_arguments,
    application_of_key,
    key_id,
    key_secret,
    route_of_key,
    scratch_database,
    seed,
    size_of,
)
from stoa.kit.settings import Settings

STREAK = 12  # consecutive refusals; with 2 workers a missed one is 1 chance in 4096
POLL_PAUSE = 0.01
ADMIN = "root@bench.test"


def _stoa() -> str:
    return str(Path(sys.executable).with_name("stoa"))


def _environment(data_dir: Path, database_url: str | None) -> dict[str, str]:
    # Only what the harness chooses: no STOA_* from the caller's shell.
    env = {name: value for name, value in os.environ.items() if not name.startswith("STOA_")}
    env["STOA_DATA_DIR"] = str(data_dir)
    if database_url:
        env["STOA_DATABASE_URL"] = database_url
    return env


def _wait_until(url: str, timeout: float) -> float:
    """Seconds until `url` answers 200; `RuntimeError` after `timeout`."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s")


def _admin_token(env: dict[str, str]) -> str:
    subprocess.run(
        [_stoa(), "admin", "create-user", "--email", ADMIN, "--role", "cpi-admin"],
        env=env,
        check=True,
        capture_output=True,
    )
    issued = subprocess.run(
        [_stoa(), "admin", "token", "--user", ADMIN],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return issued.stdout.strip().splitlines()[-1]


def _status(url: str, key: str) -> int:
    """The status of `GET url` with `key`, on a new connection each time (SO_REUSEPORT
    hands it to any worker). A bare socket: polling with an HTTP client that builds an
    SSL context per call would take a core that the control plane and the gateway need."""
    parts = urlsplit(url)
    request = (
        f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nX-API-Key: {key}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request)
        head = b""
        while b"\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
    return int(head.split(b" ", 2)[1])


def _time_to_refusal(url: str, key: str, started: float, timeout: float) -> float:
    streak_began: float | None = None
    streak = 0
    while time.perf_counter() - started < timeout:
        asked = time.perf_counter()
        if _status(url, key) == 401:
            if streak == 0:
                streak_began = asked
            streak += 1
            if streak >= STREAK and streak_began is not None:
                return streak_began - started
        else:
            streak = 0
        time.sleep(POLL_PAUSE)
    raise RuntimeError(f"the key was still accepted {timeout:.0f} s after its revocation")


def _start_gateway(
    procs: Processes, run_dir: Path, cp_url: str, token: str, workers: int
) -> tuple[str, float]:
    port = free_port()
    env = _environment(run_dir / "gateway", None)
    env.update(
        {
            "STOA_CONTROL_PLANE_URL": cp_url,
            "STOA_GATEWAY_TOKEN": token,
            "STOA_GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "STOA_GATEWAY__ACCESS_LOG": "false",
        }
    )
    procs.start(
        "gateway",
        [_stoa(), "gateway", "--port", str(port), "--workers", str(workers)],
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    return url, _wait_until(url + "/readyz", timeout=600)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_size_arguments(parser, apis=100, keys=2_000)
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=300.0, help="per change, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the run directory and logs")
    args = parser.parse_args()
    size = size_of(args)
    if args.changes > size.applications:
        parser.error("--changes must not exceed the number of applications (keys / 10)")
    with (
        harness_run(args.keep) as (procs, run_dir),
        scratch_database(args.database_url) as database_url,
    ):
        cp_dir = run_dir / "control-plane"
        cp_dir.mkdir(mode=0o700)
        settings = Settings(data_dir=cp_dir, database_url=database_url)
        cp_port = free_port()
        cp_url = f"http://127.0.0.1:{cp_port}"
        print(
            f"sync latency with {size.describe()} on "
            f"{settings.resolved_database_url.split(':')[0]}, gateway of {args.workers} workers",
            flush=True,
        )
        started = time.perf_counter()
        gateway_token = asyncio.run(seed(settings, size, backend_url=lambda a: f"{cp_url}/b{a}"))
        print(f"  seeded in {time.perf_counter() - started:.1f} s", flush=True)
        env = _environment(cp_dir, database_url)
        procs.start("control-plane", [_stoa(), "control-plane", "--port", str(cp_port)], env=env)
        _wait_until(cp_url + "/healthz", timeout=60)
        admin = httpx.Client(
            base_url=cp_url,
            headers={"authorization": f"Bearer {_admin_token(env)}"},
            timeout=300,
        )
        gateway_url, ready_after = _start_gateway(
            procs, run_dir, cp_url, gateway_token, args.workers
        )
        print(f"  gateway ready {ready_after:.1f} s after its start", flush=True)
        latencies: list[float] = []
        for change in range(args.changes):
            probe = gateway_url + route_of_key(size, change) + "/probe"
            secret = key_secret(change)
            if _status(probe, secret) == 401:
                raise RuntimeError(f"key {change} is refused before its revocation")
            time.sleep(1.0)  # the gateway back in its long poll, nothing in flight
            sent = time.perf_counter()
            revoked = admin.post(
                f"/v1/applications/{application_of_key(size, change)}/keys/{key_id(change)}/revoke"
            )
            revoked.raise_for_status()
            api_call = time.perf_counter() - sent
            latency = _time_to_refusal(probe, secret, sent, args.timeout)
            latencies.append(latency)
            print(
                f"  change {change + 1:>3}: revoke answered in {api_call * 1000:6.0f} ms, "
                f"refused by every worker after {latency:6.2f} s",
                flush=True,
            )
        admin.close()
        print(
            f"  change to every worker: p50 {statistics.median(latencies):.2f} s, "
            f"max {max(latencies):.2f} s over {len(latencies)} changes"
        )


if __name__ == "__main__":
    main()
