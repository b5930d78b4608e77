"""The subscription lifecycle table."""

from __future__ import annotations

import pytest

from stoa.controlplane.subscription.transitions import allowed_verbs, next_status
from stoa.kit.errors import Conflict


@pytest.mark.parametrize(
    ("current", "verb", "expected"),
    [
        ("pending", "approve", "active"),
        ("pending", "reject", "rejected"),
        ("pending", "revoke", "revoked"),
        ("active", "suspend", "suspended"),
        ("active", "revoke", "revoked"),
        ("suspended", "resume", "active"),
        ("suspended", "revoke", "revoked"),
    ],
)
def test_legal_moves_lead_where_the_lifecycle_says(current: str, verb: str, expected: str) -> None:
    assert next_status(current, verb) == expected  # type: ignore[arg-type]


def test_each_status_offers_exactly_its_moves() -> None:
    assert allowed_verbs("pending") == ["approve", "reject", "revoke"]
    assert allowed_verbs("active") == ["suspend", "revoke"]
    assert allowed_verbs("suspended") == ["resume", "revoke"]
    assert allowed_verbs("rejected") == []
    assert allowed_verbs("revoked") == []


def test_an_illegal_move_names_the_current_status_and_the_allowed_moves() -> None:
    with pytest.raises(Conflict) as raised:
        next_status("active", "approve")
    assert raised.value.detail == (
        "cannot approve a subscription that is active; allowed: suspend, revoke"
    )
    assert raised.value.extra == {"current_status": "active", "allowed": ["suspend", "revoke"]}


@pytest.mark.parametrize("final", ["rejected", "revoked"])
@pytest.mark.parametrize("verb", ["approve", "reject", "suspend", "resume", "revoke"])
def test_rejected_and_revoked_are_final(final: str, verb: str) -> None:
    with pytest.raises(Conflict, match=f"{final} is final"):
        next_status(final, verb)  # type: ignore[arg-type]
