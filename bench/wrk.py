"""Load generation with wrk, and the Lua scripts that shape its requests and report back.

Every script ends with a `done` hook that prints one `BENCH_RESULT {json}` line, so the
harness reads exact counts (requests, errors by kind, non-2xx/3xx answers) instead of
scraping wrk's human-readable summary.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.processes import child_setup

_RESULT_MARK = "BENCH_RESULT "

_DONE_HOOK = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,'
    .. '"status":%d,"timeout":%d,"p50_us":%.0f,"p99_us":%.0f}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True, slots=True)
class LoadSpec:
    connections: int
    threads: int
    seconds: float
    cpus: frozenset[int] | None  # where wrk runs; None = anywhere
    priority: int = 0  # nice -priority, as the servers


@dataclass(frozen=True, slots=True)
class LoadResult:
    requests: int
    seconds: float
    socket_errors: int  # connect, read, write and timeout errors
    bad_status: int  # answers that were not 2xx or 3xx
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _lua_string(value: str) -> str:
    # A JSON string literal of printable ASCII is also a valid Lua string literal.
    return json.dumps(value, ensure_ascii=True)


def _header_lines(headers: Mapping[str, str]) -> str:
    return "".join(
        f"wrk.headers[{_lua_string(name)}] = {_lua_string(value)}\n"
        for name, value in headers.items()
    )


def get_script(path: Path, headers: Mapping[str, str]) -> Path:
    """A script sending `GET <url>` with fixed headers."""
    path.write_text('wrk.method = "GET"\n' + _header_lines(headers) + _DONE_HOOK)
    return path


def json_rpc_script(path: Path, headers: Mapping[str, str], body_template: str) -> Path:
    """A script POSTing `body_template` with `{id}` replaced by a per-thread counter.

    JSON-RPC ids must not repeat within a session, so each request gets its own.
    """
    before, after = body_template.split("{id}")
    path.write_text(
        'wrk.method = "POST"\n'
        + _header_lines(headers)
        + f"local before, after = {_lua_string(before)}, {_lua_string(after)}\n"
        + "local counter = 0\n"
        + "request = function()\n"
        + "  counter = counter + 1\n"
        + "  return wrk.format(nil, nil, nil, before .. counter .. after)\n"
        + "end\n"
        + _DONE_HOOK
    )
    return path


class WrkError(RuntimeError):
    pass


def run_wrk(url: str, script: Path, load: LoadSpec, seconds: float | None = None) -> LoadResult:
    """Load `url` for `seconds` (default `load.seconds`) and return wrk's exact counts."""
    duration = seconds if seconds is not None else load.seconds
    argv = [
        "wrk",
        f"-t{load.threads}",
        f"-c{load.connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "5s",
        "-s",
        str(script),
        url,
    ]
    completed = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        check=False,
        # A session of its own, like the servers: same scheduling footing.
        start_new_session=True,
        preexec_fn=lambda: child_setup(load.cpus, load.priority),
    )
    for line in completed.stdout.splitlines():
        if line.startswith(_RESULT_MARK):
            data = json.loads(line[len(_RESULT_MARK) :])
            return LoadResult(
                requests=data["requests"],
                seconds=data["duration_us"] / 1e6,
                socket_errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
                bad_status=data["status"],
                p50_ms=data["p50_us"] / 1000,
                p99_ms=data["p99_us"] / 1000,
            )
    raise WrkError(
        f"wrk gave no result (exit {completed.returncode}): "
        f"{(completed.stderr or completed.stdout).strip()[-500:]}"
    )
