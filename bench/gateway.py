"""The STOA gateway under test: started from this virtualenv's `stoa`, ready or explained.

`start_gateway` either returns a gateway that answers `/readyz`, or raises `Unavailable`
with a reason fit for the report, so the harness can still print its references while
the gateway is being built.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.processes import Processes


class Unavailable(Exception):
    """The gateway cannot be measured; the message says why."""


@dataclass(frozen=True, slots=True)
class Gateway:
    pid: int
    url: str


def _plain(output: str) -> str:
    """Typer's framed error message as one line of text."""
    frame = "".join(chr(code) for code in range(0x2500, 0x2580))
    words = " ".join(line.strip(frame + " ") for line in output.splitlines()).split()
    return " ".join(words)[-300:] or "no output"


def _environment(data_dir: Path, port: int, log_level: str | None) -> dict[str, str]:
    # Only what the harness chooses: no STOA_* leaking in from the caller's shell (a
    # STOA_REDIS_URL would silently change what the rate limiter costs).
    env = {name: value for name, value in os.environ.items() if not name.startswith("STOA_")}
    env.update(
        {
            "STOA_DATA_DIR": str(data_dir),
            "STOA_GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{port}",
            # The benchmark's upstreams live on loopback.
            "STOA_FETCH__ALLOW_PRIVATE_NETWORKS": "true",
        }
    )
    if log_level is not None:
        env["STOA_LOG_LEVEL"] = log_level
    return env


def start_gateway(
    procs: Processes,
    *,
    snapshot: Path,
    data_dir: Path,
    port: int,
    workers: int,
    cpus: frozenset[int] | None,
    log_level: str | None,
    extra_env: dict[str, str],
) -> Gateway:
    """Start `stoa gateway --snapshot FILE --port P --workers N` and wait for `/readyz`."""
    stoa = Path(sys.executable).with_name("stoa")
    if not stoa.exists():
        raise Unavailable(f"{stoa} does not exist (run `make install`)")
    env = {**_environment(data_dir, port, log_level), **extra_env}
    usage = subprocess.run(
        [str(stoa), "gateway", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    if usage.returncode != 0:
        raise Unavailable(f"`stoa gateway` is not runnable yet: {_plain(usage.stderr)}")
    missing = [flag for flag in ("--snapshot", "--port", "--workers") if flag not in usage.stdout]
    if missing:
        raise Unavailable(f"`stoa gateway` has no {', '.join(missing)} option yet")

    argv = [str(stoa), "gateway", "--snapshot", str(snapshot), "--port", str(port)]
    argv += ["--workers", str(workers)]
    proc = procs.start("gateway", argv, env=env, cpus=cpus)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    last = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Unavailable(f"exited with code {proc.returncode}:\n{procs.log_tail('gateway')}")
        try:
            status = httpx.get(url + "/readyz", timeout=1.0).status_code
        except httpx.TransportError as exc:
            last = type(exc).__name__
        else:
            if status == 200:
                return Gateway(pid=proc.pid, url=url)
            last = f"/readyz answered {status}"
        time.sleep(0.1)
    procs.stop(proc)
    raise Unavailable(f"not ready within 60 s ({last}):\n{procs.log_tail('gateway')}")
