"""The API lifecycle as a table: which state may move to which.

```
draft ──publish──► published ──deprecate──► deprecated
  │                  │    ▲                     │
  │                  │    └────un-deprecate─────┤
  └──────────────────┴───────► retired ◄────────┘
```
Only published and deprecated APIs are served and listed in the consumer catalog;
deprecated ones accept no new subscriptions. `retired` is final. Pure: no I/O, so the
table is tested on its own.
"""

from __future__ import annotations

from typing import Literal

from stoa.kit.errors import Conflict

Lifecycle = Literal["draft", "published", "deprecated", "retired"]

LIVE: frozenset[str] = frozenset({"published", "deprecated"})
"""States in which an API is served by gateways and shown in the catalog."""

# current state -> the states it may move to, in the order messages list them
MOVES: dict[str, tuple[Lifecycle, ...]] = {
    "draft": ("published", "retired"),
    "published": ("deprecated", "retired"),
    "deprecated": ("published", "retired"),
    "retired": (),
}

# (from, to) -> the verb of the audit action `api.<verb>`
_VERBS: dict[tuple[str, str], str] = {
    ("draft", "published"): "publish",
    ("deprecated", "published"): "undeprecate",
    ("published", "deprecated"): "deprecate",
    ("draft", "retired"): "retire",
    ("published", "retired"): "retire",
    ("deprecated", "retired"): "retire",
}


def allowed_moves(current: str) -> list[Lifecycle]:
    """The states an API in `current` may move to."""
    return list(MOVES.get(current, ()))


def move_verb(current: str, to: str) -> str:
    """The verb naming the move from `current` to `to` (`publish`, `deprecate`, ...).

    Raises:
        Conflict: the move is not in the table; the message names the allowed moves, which
            are also in the problem's `allowed` member.
    """
    verb = _VERBS.get((current, to))
    if verb is not None:
        return verb
    allowed = allowed_moves(current)
    if not allowed:
        what_next = f"{current} is final"
    else:
        what_next = f"from {current} it may move to: {', '.join(allowed)}"
    if current == to:
        reason = f"the api is already {current}"
    else:
        reason = f"an api cannot move from {current} to {to}"
    raise Conflict(f"{reason}; {what_next}", current=current, allowed=allowed)
