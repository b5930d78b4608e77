"""Reading upstream event streams in whatever chunks they arrive."""

from __future__ import annotations

from stoa.gateway.mcp.sse import SseReader, sse_event


def test_events_split_across_chunks_and_line_endings_are_read() -> None:
    reader = SseReader()
    stream = b': prime\r\n\r\nevent: message\r\ndata: {"id":1,\r\ndata: "result":{}}\r\n\r\n'
    found = []
    for index in range(len(stream)):
        found.extend(reader.feed(stream[index : index + 1]))
    assert found == [{"id": 1, "result": {}}]


def test_a_final_event_without_blank_line_is_read_on_close() -> None:
    reader = SseReader()
    assert reader.feed(b'data: {"id":2}') == []
    assert reader.close() == [{"id": 2}]


def test_our_events_read_back() -> None:
    assert SseReader().feed(sse_event(b'{"a":1}')) == [{"a": 1}]
