"""The API lifecycle table."""

from __future__ import annotations

import itertools

import pytest

from stoa.controlplane.catalog.lifecycle import MOVES, allowed_moves, move_verb
from stoa.kit.errors import Conflict

STATES = ["draft", "published", "deprecated", "retired"]
LEGAL = {
    ("draft", "published"): "publish",
    ("draft", "retired"): "retire",
    ("published", "deprecated"): "deprecate",
    ("published", "retired"): "retire",
    ("deprecated", "published"): "undeprecate",
    ("deprecated", "retired"): "retire",
}


@pytest.mark.parametrize(("current", "to"), list(LEGAL))
def test_legal_moves_are_named_by_their_verb(current: str, to: str) -> None:
    assert move_verb(current, to) == LEGAL[(current, to)]


def test_the_table_allows_exactly_the_legal_moves() -> None:
    table = {(current, to) for current, targets in MOVES.items() for to in targets}
    assert table == set(LEGAL)
    assert allowed_moves("draft") == ["published", "retired"]
    assert allowed_moves("retired") == []


@pytest.mark.parametrize(
    ("current", "to"),
    [pair for pair in itertools.product(STATES, STATES) if pair not in LEGAL],
)
def test_every_other_move_is_a_conflict_naming_the_allowed_moves(current: str, to: str) -> None:
    with pytest.raises(Conflict) as raised:
        move_verb(current, to)
    assert raised.value.extra == {"current": current, "allowed": allowed_moves(current)}
    for allowed in allowed_moves(current):
        assert allowed in raised.value.detail


def test_messages_say_why_a_move_is_refused() -> None:
    with pytest.raises(Conflict) as back_to_draft:
        move_verb("published", "draft")
    assert back_to_draft.value.detail == (
        "an api cannot move from published to draft; "
        "from published it may move to: deprecated, retired"
    )
    with pytest.raises(Conflict) as same:
        move_verb("draft", "draft")
    assert same.value.detail.startswith("the api is already draft;")
    with pytest.raises(Conflict) as final:
        move_verb("retired", "published")
    assert final.value.detail == "an api cannot move from retired to published; retired is final"
