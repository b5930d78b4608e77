"""Policies compiled into ready-to-apply objects.

The control plane validated and normalized every policy config (see the contract), so
compiling only builds lookup structures. A call is governed by the policies of the API's
tenant, of the API, and (once the caller is known) of the subscription's plan; this
module merges them in that order into one `CallPolicies` per API and one per grant.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from stoa.contract.snapshot import PolicyEntry, SnapshotError

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=4096)
def _address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    # Client addresses repeat; parsing one costs more than the cache lookup.
    try:
        return ipaddress.ip_address(ip)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class IpFilter:
    """Deny wins; with a non-empty `allow`, only addresses inside it pass."""

    allow: tuple[IpNetwork, ...]
    deny: tuple[IpNetwork, ...]

    def admits(self, ip: str) -> bool:
        address = _address(ip)
        if address is None:
            return False
        if any(address in network for network in self.deny):
            return False
        return not self.allow or any(address in network for network in self.allow)


@dataclass(frozen=True, slots=True)
class CorsRule:
    """Which browser origins may call, and what the preflight answer says."""

    any_origin: bool
    origins: frozenset[str]
    allow_methods: str
    allow_headers: str
    expose_headers: str
    allow_credentials: bool
    max_age: str

    def allows(self, origin: str) -> bool:
        return self.any_origin or origin in self.origins

    def response_headers(self, origin: str) -> list[tuple[str, str]]:
        """Headers for an actual (non-preflight) response to `origin`."""
        headers = [("access-control-allow-origin", "*" if self.any_origin else origin)]
        if not self.any_origin:
            headers.append(("vary", "Origin"))
        if self.allow_credentials:
            headers.append(("access-control-allow-credentials", "true"))
        if self.expose_headers:
            headers.append(("access-control-expose-headers", self.expose_headers))
        return headers

    def preflight_headers(self, origin: str) -> list[tuple[str, str]]:
        headers = self.response_headers(origin)
        headers.append(("access-control-allow-methods", self.allow_methods))
        if self.allow_headers:
            headers.append(("access-control-allow-headers", self.allow_headers))
        headers.append(("access-control-max-age", self.max_age))
        return headers


@dataclass(frozen=True, slots=True)
class CallPolicies:
    """Everything policies ask of one call, merged.

    `ip_filters`: every filter must admit the caller. `max_body_bytes`: the smallest limit
    wins. `set_headers` / `remove_headers`: applied to the upstream request, later targets
    (API over tenant, plan over API) overriding earlier ones. `cors`: the API's rule, else
    the tenant's.
    """

    ip_filters: tuple[IpFilter, ...] = ()
    cors: CorsRule | None = None
    max_body_bytes: int | None = None
    set_headers: tuple[tuple[str, str], ...] = ()
    remove_headers: frozenset[str] = frozenset()

    def admits_ip(self, ip: str) -> bool:
        return all(rule.admits(ip) for rule in self.ip_filters)


EMPTY_POLICIES = CallPolicies()


@dataclass(frozen=True, slots=True)
class ToolFilter:
    """`allow` None means every tool not denied."""

    allow: frozenset[str] | None
    deny: frozenset[str] = field(default_factory=frozenset)

    def permits(self, tool: str) -> bool:
        if tool in self.deny:
            return False
        return self.allow is None or tool in self.allow


def _networks(values: Iterable[str], policy: PolicyEntry) -> tuple[IpNetwork, ...]:
    try:
        return tuple(ipaddress.ip_network(value) for value in values)
    except ValueError as exc:
        raise SnapshotError(f"policy {policy.id}: {exc}") from exc


def _cors(config: dict[str, Any]) -> CorsRule:
    origins = list(config.get("allow_origins", []))
    return CorsRule(
        any_origin="*" in origins,
        origins=frozenset(origins),
        allow_methods=", ".join(config.get("allow_methods", ["GET", "HEAD", "POST"])),
        allow_headers=", ".join(config.get("allow_headers", [])),
        expose_headers=", ".join(config.get("expose_headers", [])),
        allow_credentials=bool(config.get("allow_credentials", False)),
        max_age=str(int(config.get("max_age_seconds", 600))),
    )


def merge_policies(base: CallPolicies, entries: Sequence[PolicyEntry]) -> CallPolicies:
    """`base` with `entries` (all of one target) applied on top."""
    ip_filters = list(base.ip_filters)
    cors = base.cors
    max_body = base.max_body_bytes
    headers = dict(base.set_headers)
    removed = set(base.remove_headers)
    for policy in entries:
        config = policy.config
        try:
            if policy.kind == "ip_filter":
                ip_filters.append(
                    IpFilter(
                        allow=_networks(config.get("allow", []), policy),
                        deny=_networks(config.get("deny", []), policy),
                    )
                )
            elif policy.kind == "cors":
                cors = _cors(config)
            elif policy.kind == "body_size":
                limit = int(config["max_bytes"])
                max_body = limit if max_body is None else min(max_body, limit)
            elif policy.kind == "headers":
                for name, value in dict(config.get("set", {})).items():
                    headers[str(name).lower()] = str(value)
                    removed.discard(str(name).lower())
                for name in config.get("remove", []):
                    removed.add(str(name).lower())
                    headers.pop(str(name).lower(), None)
        except (KeyError, TypeError, ValueError) as exc:
            raise SnapshotError(f"policy {policy.id} ({policy.kind}): bad config: {exc}") from exc
    return CallPolicies(
        ip_filters=tuple(ip_filters),
        cors=cors,
        max_body_bytes=max_body,
        set_headers=tuple(headers.items()),
        remove_headers=frozenset(removed),
    )


def tool_filters(entries: Sequence[PolicyEntry]) -> list[ToolFilter]:
    """The `tool_filter` policies among `entries`."""
    filters = []
    for policy in entries:
        if policy.kind != "tool_filter":
            continue
        allow = policy.config.get("allow")
        filters.append(
            ToolFilter(
                allow=None if allow is None else frozenset(allow),
                deny=frozenset(policy.config.get("deny", [])),
            )
        )
    return filters
