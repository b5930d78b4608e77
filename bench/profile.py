"""Where the gateway's time goes: py-spy samples of one worker under wrk load.

    python -m bench.profile rest-limited      # or rest-open, mcp
    python -m bench.profile mcp --seconds 20 --native --keep

Starts the same upstreams and gateway as `python -m bench` (one worker), loads one route
with wrk and samples the worker with py-spy (a PyPI tool: `pip install py-spy` into any
environment, then put it on PATH or set PY_SPY). Prints the functions with the most
samples, on their own ("self") and with what they call ("total"), and keeps the raw
collapsed stacks (`--keep`) for a flame graph (speedscope.app reads them).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from bench import probe
from bench.debian import ensure_tools
from bench.processes import child_setup, harness_run
from bench.snapshot import LIMITED_API, MCP_API, OPEN_API, TENANT
from bench.stack import Stack, start_stack
from bench.wrk import LoadSpec, get_script, json_rpc_script

_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def _py_spy() -> str:
    found = os.environ.get("PY_SPY") or shutil.which("py-spy")
    if found is None:
        sibling = Path(sys.executable).with_name("py-spy")
        found = str(sibling) if sibling.exists() else None
    if found is None:
        raise SystemExit("py-spy not found: pip install py-spy, then put it on PATH or set PY_SPY")
    return found


def _target(stack: Stack, run: Path, route: str) -> tuple[str, Path]:
    """The URL and wrk script that load `route` on the gateway, checked once first."""
    assert stack.gateway is not None
    key = stack.key_headers
    if route == "mcp":
        url = f"{stack.gateway.url}/mcp"
        tool = f"{MCP_API}__echo"
        headers = probe.mcp_call_headers(url, key, tool)
        return url, json_rpc_script(run / "mcp.lua", headers, probe.tools_call_body(tool))
    api = OPEN_API if route == "rest-open" else LIMITED_API
    url = f"{stack.gateway.url}/proxy/{TENANT}/{api}/item"
    probe.check_rest(url, key)
    return url, get_script(run / "get.lua", key)


def _short(frame: str) -> str:
    match = _FRAME.match(frame)
    if match is None:
        return frame
    file = match["file"]
    for marker in ("/site-packages/", "/src/", "/lib/python3.11/"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{match['function']} ({file})"


def _area(frame: str) -> str:
    """The part of the system a (shortened) frame belongs to, for the per-area summary."""
    match = _FRAME.match(frame)
    file = match["file"] if match else ""
    if file.startswith("stoa/"):
        parts = file.split("/")
        return "/".join(parts[:3]) if len(parts) > 3 else "/".join(parts[:2])
    if file.startswith("libc") or file.endswith(".so.6"):
        name = match["function"] if match else frame
        return f"system call {name}" if name in _SYSCALLS else "libc"
    if file.startswith(("asyncio/", "uvloop")) or file.endswith(".c"):
        return "event loop, parsers (asyncio, uvloop, httptools: C and Python)"
    return file.split("/")[0] or "other"


_SYSCALLS = frozenset({"write", "writev", "read", "recv", "send", "epoll_pwait", "epoll_wait"})


def summarize(collapsed: str, top: int) -> str:
    """Self and total sample shares per function, from py-spy's raw (collapsed) output."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    samples = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        samples += count
        frames = [_short(frame) for frame in stack.split(";")]
        own[frames[-1]] += count
        areas[_area(frames[-1])] += count
        for function in set(frames):
            total[function] += count
    if not samples:
        return "no samples (was the worker idle?)"
    lines = [f"{samples} samples", "", "self %  area"]
    lines += [f"{100 * n / samples:6.1f}  {name}" for name, n in areas.most_common()]
    lines += ["", "self %  function"]
    lines += [f"{100 * n / samples:6.1f}  {name}" for name, n in own.most_common(top)]
    lines += ["", "total %  function"]
    lines += [f"{100 * n / samples:7.1f}  {name}" for name, n in total.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("route", choices=["rest-open", "rest-limited", "mcp"])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rate", type=int, default=500, help="py-spy samples per second")
    parser.add_argument("--native", action="store_true", help="include C frames (py-spy)")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--gateway-env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--commit", default=None, metavar="REF", help="as in bench")
    parser.add_argument("--priority", type=int, default=0, metavar="N", help="as in bench")
    parser.add_argument("--keep", action="store_true", help="keep logs and collapsed stacks")
    args = parser.parse_args(argv)
    py_spy = _py_spy()
    tools = ensure_tools()
    with harness_run(args.keep, args.priority) as (procs, run):
        stack = start_stack(
            procs,
            run,
            tools["nginx"],
            workers=1,
            server_cpus=None,
            load_cpus=None,
            log_level=None,
            gateway_env=dict(item.split("=", 1) for item in args.gateway_env),
            commit=args.commit,
        )
        if stack.gateway is None:
            print(stack.unavailable, file=sys.stderr)
            return 1
        url, script = _target(stack, run, args.route)
        load = LoadSpec(args.connections, 1, args.warmup + args.seconds + 2, None)
        wrk = subprocess.Popen(
            [
                "wrk",
                "-t1",
                f"-c{load.connections}",
                f"-d{round(load.seconds)}s",
                "-s",
                str(script),
                url,
            ],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
            preexec_fn=lambda: child_setup(None, args.priority),
        )
        try:
            time.sleep(args.warmup)
            collapsed = run / "profile.collapsed"
            record = [py_spy, "record", "--pid", str(stack.gateway.pid), "--format", "raw"]
            record += ["--rate", str(args.rate), "--duration", str(round(args.seconds))]
            record += ["--output", str(collapsed)]
            # Native unwinding needs the process paused per sample; Python frames do not.
            record.append("--native" if args.native else "--nonblocking")
            spy = subprocess.run(record, capture_output=True, text=True, check=False)
            if spy.returncode != 0:
                raise SystemExit(f"py-spy failed: {(spy.stderr or spy.stdout).strip()[-500:]}")
        finally:
            output, _ = wrk.communicate()
        rate = re.search(r"Requests/sec:\s*([\d.]+)", output or "")
        print(f"{args.route}: {url} at {rate[1] if rate else '?'} req/s under py-spy")
        print(summarize(collapsed.read_text(), args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
