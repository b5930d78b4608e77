"""The printed result: absolute figures per target, ratios to the reference, the targets."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Protocol

from bench.measure import Measurement

REST_THROUGHPUT_TARGET = 0.5  # gateway / nginx, key auth and rate limit on
MCP_CPU_TARGET_US = 150.0  # gateway CPU per tools/call
NGINX_REFERENCE_US = 31.0  # nginx's CPU per proxied request where the targets were set


@dataclass(slots=True)
class Section:
    """A reference and what is compared to it; `None` measurements carry a reason instead."""

    title: str
    reference: Measurement | str
    compared: list[Measurement | str] = field(default_factory=list)


_HEAD = (
    f"{'':<44}{'req/s':>9}{'CPU µs/req':>12}{'(sys)':>7}{'cores':>7}{'p50 ms':>8}{'p99 ms':>8}"
    f"{'errors':>8}{'other':>7}{'req/s x':>9}{'CPU x':>7}"
)


def _line(m: Measurement, reference: Measurement | None) -> str:
    errors = m.socket_errors + m.bad_status
    text = (
        f"  {m.label:<42}{m.rate:>9,.0f}{m.cpu_us_per_request:>12.1f}"
        f"{m.system_us_per_request:>7.1f}{m.cores_busy:>7.2f}"
        f"{m.p50_ms:>8.2f}{m.p99_ms:>8.2f}{errors:>8}{m.others_cores:>7.2f}"
    )
    if reference is not None and reference.rate and reference.requests:
        text += f"{m.rate / reference.rate:>8.2f}x"
        text += f"{m.cpu_us_per_request / reference.cpu_us_per_request:>6.2f}x"
    return text


def _warnings(m: Measurement, workers: int, is_reference: bool) -> list[str]:
    notes = []
    if not m.clean:
        notes.append(
            f"  ! {m.label}: {m.socket_errors} socket errors, {m.bad_status} non-2xx answers"
            " — figures not valid"
        )
    if m.others_cores > 0.1:
        notes.append(
            f"  ! {m.label}: other processes on this machine used {m.others_cores:.2f} cores"
            " during the run — figures disturbed; run again on a quiet machine"
        )
    if is_reference and m.cores_busy < 0.9 * workers:
        notes.append(
            f"  ! {m.label} kept only {m.cores_busy:.2f} of {workers} core(s) busy: it was not"
            " the bottleneck, so ratios to it flatter the gateway"
        )
    return notes


def render(sections: list[Section], header: str, workers: int) -> str:
    lines = [header, "", _HEAD]
    notes: list[str] = []
    for section in sections:
        lines.append(section.title)
        reference = section.reference if isinstance(section.reference, Measurement) else None
        if reference is None:
            lines.append(f"  reference: not available ({section.reference})")
        else:
            lines.append(_line(reference, None))
            notes += _warnings(reference, workers, is_reference=True)
        for item in section.compared:
            if isinstance(item, Measurement):
                lines.append(_line(item, reference))
                notes += _warnings(item, workers, is_reference=False)
            else:
                lines.append(f"  {item}")
    return "\n".join([*lines, *notes])


def render_targets(
    rest: tuple[Measurement, Measurement] | None,
    mcp: Measurement | None,
    nginx: Measurement | None = None,
) -> str:
    lines = ["Targets (issue 4, same worker count as nginx):"]
    if rest is None:
        lines.append("  REST proxy, key auth + rate limit ≥ 0.5x nginx req/s: not measured")
    else:
        ours, nginx = rest
        ratio = ours.rate / nginx.rate if nginx.rate else 0.0
        verdict = "PASS" if ratio >= REST_THROUGHPUT_TARGET and ours.clean else "MISS"
        lines.append(
            f"  REST proxy, key auth + rate limit ≥ 0.5x nginx req/s: {ratio:.2f}x  {verdict}"
        )
    if mcp is None:
        lines.append("  gateway CPU per MCP tools/call ≤ 150 µs: not measured")
    else:
        cpu = mcp.cpu_us_per_request
        verdict = "PASS" if cpu <= MCP_CPU_TARGET_US and mcp.clean else "MISS"
        lines.append(
            f"  gateway CPU per MCP tools/call ≤ 150 µs: {cpu:.0f} µs  {verdict}"
            "  (gateway processes only; the upstream's CPU is not counted)"
        )
        if nginx is not None and nginx.requests and nginx.cpu_us_per_request > 0:
            # CPU time per request depends on the machine, and on a shared or nested
            # virtual machine on what else runs; nginx, measured in the same run, is the
            # yardstick the figures were taken with.
            scaled = cpu * NGINX_REFERENCE_US / nginx.cpu_us_per_request
            lines.append(
                f"    = {scaled:.0f} µs on a machine where nginx spends "
                f"{NGINX_REFERENCE_US:.0f} µs per proxied request (the issue's; here "
                f"{nginx.cpu_us_per_request:.1f} µs)"
            )
    return "\n".join(lines)


class _Rounds(Protocol):
    @property
    def results(self) -> list[Measurement]: ...


def to_json(header: str, jobs: Iterable[_Rounds]) -> str:
    """Every round of every target, with the derived figures, as one JSON document."""
    rounds = [
        {
            **asdict(m),
            "rate": m.rate,
            "cpu_us_per_request": m.cpu_us_per_request,
            "system_us_per_request": m.system_us_per_request,
        }
        for job in jobs
        for m in job.results
    ]
    return json.dumps({"header": header, "rounds": rounds}, indent=2)
