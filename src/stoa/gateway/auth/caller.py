"""Who is calling, and what they may use."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from stoa.gateway.snapshot.compiled import Grant


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller.

    `grants` maps API id to the grant the caller may use. `scopes` is None for API keys
    (a key is limited by its subscriptions only) and the token's scopes for bearer tokens.
    """

    subject: str  # key id or token `sub`
    grants: Mapping[str, Grant]
    scopes: frozenset[str] | None

    def has_scope(self, scope: str) -> bool:
        return self.scopes is None or scope in self.scopes
