"""The subscription lifecycle as a table: which verb moves which status where.

```
pending ──approve──► active ──suspend──► suspended
   │                  ▲  │                  │
   └─reject─► rejected │  └──────resume─────┘ (back to active)
pending | active | suspended ──revoke──► revoked
```
`rejected` and `revoked` are final. Pure: no I/O, so the table is tested on its own.
"""

from __future__ import annotations

from typing import Literal

from stoa.kit.errors import Conflict

Status = Literal["pending", "active", "suspended", "rejected", "revoked"]
Verb = Literal["approve", "reject", "suspend", "resume", "revoke"]

LIVE: frozenset[str] = frozenset({"pending", "active", "suspended"})

# verb -> (statuses it applies to, status it leads to)
TRANSITIONS: dict[Verb, tuple[frozenset[str], Status]] = {
    "approve": (frozenset({"pending"}), "active"),
    "reject": (frozenset({"pending"}), "rejected"),
    "suspend": (frozenset({"active"}), "suspended"),
    "resume": (frozenset({"suspended"}), "active"),
    "revoke": (LIVE, "revoked"),
}


def allowed_verbs(current: str) -> list[Verb]:
    """The verbs that apply to a subscription in `current`, in table order."""
    return [verb for verb, (sources, _) in TRANSITIONS.items() if current in sources]


def next_status(current: str, verb: Verb) -> Status:
    """Where `verb` leads from `current`; `Conflict` naming the allowed verbs if nowhere."""
    sources, target = TRANSITIONS[verb]
    if current in sources:
        return target
    allowed = allowed_verbs(current)
    what_next = f"allowed: {', '.join(allowed)}" if allowed else f"{current} is final"
    raise Conflict(
        f"cannot {verb} a subscription that is {current}; {what_next}",
        current_status=current,
        allowed=allowed,
    )
