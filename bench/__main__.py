"""`python -m bench` (or `make bench`): the STOA gateway against nginx, in one run.

See bench/README.md for what is started, what is measured and how to read the table.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import nginx, probe
from bench.cpu import pin_tree
from bench.debian import ensure_tools
from bench.gateway import Gateway
from bench.measure import Measurement, Target, measure
from bench.processes import Processes, StartError, free_port, harness_run
from bench.report import Section, render, render_targets, to_json
from bench.snapshot import LIMITED_API, MCP_API, OPEN_API, TENANT
from bench.stack import REPO, start_stack
from bench.wrk import LoadSpec, WrkError, get_script, json_rpc_script


@dataclass(frozen=True, slots=True)
class CpuPlan:
    servers: frozenset[int] | None  # the measured server (nginx proxy, gateway, direct MCP)
    load: frozenset[int] | None  # wrk and the upstreams behind the measured server
    description: str


@dataclass(slots=True)
class Job:
    """One target, measured once per round; the report shows its best round."""

    target: Target
    before: Callable[[], None] | None = None  # e.g. move the MCP upstream's CPUs
    results: list[Measurement] = field(default_factory=list)

    def run(self, load: LoadSpec, warmup: float, harness: list[int]) -> None:
        if self.before is not None:
            self.before()
        self.results.append(measure(self.target, load, warmup, harness))

    def best(self) -> Measurement:
        # The highest throughput is the round least disturbed by anything else.
        return max(self.results, key=lambda m: m.rate)


@dataclass(slots=True)
class Plan:
    """A report section before measurement: a reference job and what is compared to it."""

    title: str
    reference: Job | str
    compared: list[Job | str] = field(default_factory=list)

    def jobs(self) -> list[Job]:
        return [item for item in (self.reference, *self.compared) if isinstance(item, Job)]

    def result(self) -> Section:
        def best(item: Job | str) -> Measurement | str:
            return item.best() if isinstance(item, Job) else item

        reference = best(self.reference)
        return Section(self.title, reference, [best(item) for item in self.compared])


def plan_cpus(pin: bool, workers: int) -> CpuPlan:
    """With `pin`, give the measured server its own core(s) and the rest to the load.

    Off by default: on two cores, wrk and the upstream sharing one core cannot keep even
    nginx busy (it idles at half a core and its CPU per request rises as batching drops),
    so the reference would not be saturated. Unpinned, everything shares the cores, as in
    the issue's figures, and a saturated server shows about 1.0 in the `cores` column.
    """
    available = sorted(os.sched_getaffinity(0))
    if not pin or len(available) <= workers:
        return CpuPlan(None, None, "not pinned (servers, upstreams and wrk share all CPUs)")
    servers = frozenset(available[:workers])
    load = frozenset(available[workers:])
    return CpuPlan(
        servers,
        load,
        f"measured server on CPU {_cpus(servers)}, wrk and upstreams on CPU {_cpus(load)}",
    )


def _cpus(cpus: frozenset[int]) -> str:
    return ",".join(str(cpu) for cpu in sorted(cpus))


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of load before each")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="measure every target this many times, interleaved, and report each one's best",
    )
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument(
        "--workers", type=int, default=1, help="nginx workers = gateway workers (default 1)"
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="measured server on its own CPU(s), wrk and upstreams on the others",
    )
    parser.add_argument(
        "--log-level", default=None, help="the gateway's STOA_LOG_LEVEL (default: its own)"
    )
    parser.add_argument(
        "--gateway-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra setting for the gateway, e.g. STOA_GATEWAY__ACCESS_LOG=false (repeatable)",
    )
    parser.add_argument(
        "--priority",
        type=int,
        default=0,
        metavar="N",
        help="run every benchmark process at nice -N (root only), so that other work on a "
        "shared machine disturbs the figures less; applies to nginx and the gateway alike",
    )
    parser.add_argument(
        "--commit",
        default=None,
        metavar="REF",
        help="run the gateway as committed at REF (e.g. HEAD) instead of the working tree",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        metavar="FILE",
        help="also write every round of every target to FILE, to compare runs over time",
    )
    parser.add_argument("--keep", action="store_true", help="keep the run directory and logs")
    return parser.parse_args(argv)


def _header(args: argparse.Namespace, plan: CpuPlan, tools: dict[str, str]) -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    version = subprocess.run(
        [tools["nginx"], "-v"], capture_output=True, text=True, check=False
    ).stderr.strip()
    describe = ["git", "-C", str(REPO), "describe", "--always"]
    describe += [args.commit] if args.commit else ["--dirty"]
    commit = subprocess.run(describe, capture_output=True, text=True, check=False).stdout.strip()
    return (
        f"STOA gateway benchmark — tree {commit or '?'}, {version}, {model}, "
        f"{os.cpu_count()} CPUs\n"
        f"{args.workers} worker(s) for nginx and the gateway; wrk -t{args.threads} "
        f"-c{args.connections}, {args.warmup:.0f} s warm-up + {args.duration:.0f} s per row, "
        f"best of {args.rounds} interleaved round(s); nice {-args.priority}; "
        f"{plan.description}\n"
        "(sys) = the kernel's part of CPU µs/req; "
        "cores = CPU seconds of the server's processes / wall seconds; other = cores used by "
        "processes outside the benchmark; "
        "x: ratio of the row to the section's first line"
    )


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    tools = ensure_tools()
    try:
        with harness_run(args.keep, args.priority) as (procs, run_dir):
            print(_run(args, procs, run_dir, tools))
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted: every server stopped", file=sys.stderr)
        return 130
    except (StartError, probe.ProbeFailed, WrkError) as exc:
        # The references are the harness's own: failing them is a harness problem.
        print(f"bench: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, procs: Processes, run: Path, tools: dict[str, str]) -> str:
    plan = plan_cpus(args.pin, args.workers)
    load = LoadSpec(args.connections, args.threads, args.duration, plan.load, args.priority)
    stack = start_stack(
        procs,
        run,
        tools["nginx"],
        workers=args.workers,
        server_cpus=plan.servers,
        load_cpus=plan.load,
        log_level=args.log_level,
        gateway_env=dict(item.split("=", 1) for item in args.gateway_env),
        commit=args.commit,
    )
    proxy_port = free_port()
    proxy = procs.start(
        "nginx-proxy",
        nginx.argv(
            tools["nginx"], nginx.proxy_config(run, proxy_port, stack.upstream_port, args.workers)
        ),
        cpus=plan.servers,
    )
    procs.wait_for_port("nginx-proxy", proxy, proxy_port)

    key = stack.key_headers
    rest, limited = _rest_jobs(run, proxy.pid, proxy_port, stack.gateway, stack.unavailable, key)
    mcp, mcp_gateway = _mcp_jobs(
        run, stack.mcp_pid, stack.mcp_port, stack.gateway, stack.unavailable, key, plan
    )

    # Interleaved rounds: a burst of background work on a shared machine then hits every
    # target in turn rather than one side of a comparison.
    jobs = [job for section in (rest, mcp) for job in section.jobs()]
    for _ in range(args.rounds):
        for job in jobs:
            job.run(load, args.warmup, procs.pids())

    table = render([rest.result(), mcp.result()], _header(args, plan, tools), args.workers)
    reference = rest.reference
    targets = render_targets(
        (limited.best(), reference.best())
        if limited is not None and isinstance(reference, Job)
        else None,
        mcp_gateway.best() if mcp_gateway is not None else None,
        reference.best() if isinstance(reference, Job) else None,
    )
    if args.json is not None:
        args.json.write_text(to_json(_header(args, plan, tools), jobs))
    return f"{table}\n\n{targets}"


def _rest_jobs(
    run: Path,
    proxy_pid: int,
    proxy_port: int,
    gateway: Gateway | None,
    unavailable: str,
    key: dict[str, str],
) -> tuple[Plan, Job | None]:
    """nginx, then the gateway plain and with key auth + rate limit, on one upstream."""
    path = "/item?size=1k"
    nginx_url = f"http://127.0.0.1:{proxy_port}/proxy/{TENANT}/{LIMITED_API}{path}"
    probe.check_rest(nginx_url, {})
    script = get_script(run / "get.lua", {})
    rest = Plan(
        "REST proxy, GET of a 1 KB body",
        Job(Target("nginx reverse proxy", proxy_pid, nginx_url, script)),
    )
    if gateway is None:
        rest.compared.append(unavailable)
        return rest, None
    open_url = f"{gateway.url}/proxy/{TENANT}/{OPEN_API}{path}"
    if probe.answers_without_credentials(open_url):
        plain = ("gateway, no credentials", open_url, {})
    else:
        plain = ("gateway, key auth, plan without limits", open_url, key)
        rest.compared.append("(the gateway has no unauthenticated route: plain = key auth)")
    limited_url = f"{gateway.url}/proxy/{TENANT}/{LIMITED_API}{path}"
    limited: Job | None = None
    for label, url, headers in (plain, ("gateway, key auth + rate limit", limited_url, key)):
        try:
            probe.check_rest(url, headers)
        except probe.ProbeFailed as exc:
            rest.compared.append(f"{label}: not available ({exc})")
            continue
        script = get_script(run / f"get-{len(rest.compared)}.lua", headers)
        job = Job(Target(label, gateway.pid, url, script))
        rest.compared.append(job)
        if url == limited_url:
            limited = job
    return rest, limited


def _mcp_jobs(
    run: Path,
    upstream_pid: int,
    upstream_port: int,
    gateway: Gateway | None,
    unavailable: str,
    key: dict[str, str],
    plan: CpuPlan,
) -> tuple[Plan, Job | None]:
    """The MCP upstream alone (on the servers' CPUs when pinned), then behind the gateway."""
    direct_url = f"http://127.0.0.1:{upstream_port}/mcp"
    direct_headers = probe.mcp_call_headers(direct_url, {}, "echo")
    direct = Job(
        Target(
            "upstream MCP server, called directly",
            upstream_pid,
            direct_url,
            json_rpc_script(run / "mcp-direct.lua", direct_headers, probe.tools_call_body("echo")),
        ),
        before=_pinner(upstream_pid, plan.servers),
    )
    mcp = Plan("MCP tools/call of `echo` (JSON response)", direct)
    if gateway is None:
        mcp.compared.append(unavailable)
        return mcp, None
    tool = f"{MCP_API}__echo"
    try:
        headers = probe.mcp_call_headers(gateway.url + "/mcp", key, tool)
    except probe.ProbeFailed as exc:
        mcp.compared.append(f"gateway /mcp: not available ({exc})")
        return mcp, None
    script = json_rpc_script(run / "mcp-gateway.lua", headers, probe.tools_call_body(tool))
    label = "gateway /mcp, key auth + rate limit"
    job = Job(
        Target(label, gateway.pid, gateway.url + "/mcp", script),
        before=_pinner(upstream_pid, plan.load),
    )
    mcp.compared.append(job)
    return mcp, job


def _pinner(pid: int, cpus: frozenset[int] | None) -> Callable[[], None] | None:
    return None if cpus is None else lambda: pin_tree(pid, cpus)


if __name__ == "__main__":
    sys.exit(main())
