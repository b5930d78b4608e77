"""The servers behind every measurement: the 1 KB upstream, the MCP upstream, the gateway."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench import nginx
from bench.gateway import Gateway, Unavailable, start_gateway
from bench.processes import Processes, free_port
from bench.snapshot import BenchSnapshot, write_snapshot

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class Stack:
    upstream_pid: int
    upstream_port: int
    mcp_pid: int
    mcp_port: int
    snapshot: BenchSnapshot
    gateway: Gateway | None
    unavailable: str  # why `gateway` is None, ready for the report

    @property
    def key_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.snapshot.api_key}"}


def export_source(commit: str, run: Path) -> Path:
    """Extract `src/` as of `commit` into the run directory; return the `src` path."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", commit, "src"],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        raise SystemExit(f"cannot export {commit}: {archive.stderr.decode().strip()}")
    target = run / "source"
    target.mkdir()
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target / "src"


def start_stack(
    procs: Processes,
    run: Path,
    nginx_binary: str,
    *,
    workers: int,
    server_cpus: frozenset[int] | None,
    load_cpus: frozenset[int] | None,
    log_level: str | None,
    gateway_env: dict[str, str],
    commit: str | None = None,
) -> Stack:
    """Start both upstreams (on `load_cpus`) and the gateway (on `server_cpus`).

    Raises `StartError` when an upstream fails; a gateway that fails is reported in
    `Stack.unavailable` instead, so the references can still be measured. With `commit`,
    the gateway runs the code of that commit instead of the working tree (which other
    people may be editing while the benchmark runs).
    """
    if commit is not None:
        gateway_env = {**gateway_env, "PYTHONPATH": str(export_source(commit, run))}
    upstream_port, mcp_port, gateway_port = (free_port() for _ in range(3))
    upstream = procs.start(
        "upstream",
        nginx.argv(nginx_binary, nginx.upstream_config(run, upstream_port)),
        cpus=load_cpus,
    )
    procs.wait_for_port("upstream nginx", upstream, upstream_port)
    mcp = procs.start(
        "mcp-upstream",
        [sys.executable, "-m", "bench.mcp_upstream", "--port", str(mcp_port)],
        cpus=load_cpus,
        cwd=REPO,
    )
    procs.wait_for_port("mcp-upstream", mcp, mcp_port)

    data_dir = run / "data"
    data_dir.mkdir(mode=0o700)
    snapshot = write_snapshot(
        data_dir, f"http://127.0.0.1:{upstream_port}", f"http://127.0.0.1:{mcp_port}/mcp"
    )
    gateway: Gateway | None = None
    unavailable = ""
    try:
        gateway = start_gateway(
            procs,
            snapshot=snapshot.path,
            data_dir=data_dir,
            port=gateway_port,
            workers=workers,
            cpus=server_cpus,
            log_level=log_level,
            extra_env=gateway_env,
        )
    except Unavailable as exc:
        unavailable = f"gateway: not available ({exc})"
    return Stack(upstream.pid, upstream_port, mcp.pid, mcp_port, snapshot, gateway, unavailable)
