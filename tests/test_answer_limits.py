"""The nesting check and the record splitter never misread a sound answer (properties).

Both read JSON by its strings and brackets alone, without a parser: a slip in how they skip
escaped quotes or brackets inside text would refuse a sound HiBob answer as broken, or cut
it into the wrong records. So they are checked against json.dumps of random values.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from hibob_sync.bounded import MAX_DEPTH, BrokenAnswer, too_deep
from hibob_sync.hibob.answers import parse_search
from hibob_sync.hibob.records import read_record, split_records

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

TEXT = st.text(alphabet=st.sampled_from(list('a"\\[]{}/bnu\u00e9\n\x00 :,')), max_size=8)
LEAVES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT
VALUES = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=40,
)


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    return 0


def nest(value: Any, levels: int) -> Any:
    for index in range(levels):
        value = [value] if index % 2 else {"k": value}
    return value


@hypothesis.given(VALUES, st.integers(0, 40), st.booleans())
@hypothesis.settings(max_examples=150, deadline=None)
def test_the_nesting_check_reads_sound_json_right(value: Any, extra: int, ascii: bool) -> None:
    value = nest(value, extra)
    text = json.dumps(value, ensure_ascii=ascii).encode()
    real = depth(value)
    deep = too_deep(text, 16)  # never BrokenAnswer for sound JSON
    if real <= 8:
        assert not deep
    if real > 16:
        assert deep


@hypothesis.given(st.lists(st.dictionaries(TEXT, VALUES, max_size=4), max_size=5), VALUES)
@hypothesis.settings(max_examples=100, deadline=None)
def test_records_are_cut_where_the_parser_would_cut_them(
    records: list[dict[str, Any]], other: Any
) -> None:
    text = json.dumps({"before": other, "employees": records, "after": [other]}).encode()
    spans = split_records(text)
    assert [read_record(text[start:end]).data for start, end in spans] == records


def test_unpaired_brackets_and_open_text_are_broken() -> None:
    for text in (b'{"employees": [{"id": "1"}', b'{"employees": [{"id": "1]}', b"[}"):
        with pytest.raises(BrokenAnswer):
            split_records(text)
    with pytest.raises(BrokenAnswer):
        too_deep(b'[{"a": "]"]')
    assert too_deep(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))


def test_a_record_whose_id_is_unreadable_names_nobody() -> None:
    good = {"id": "1", "root": {"email": "a@acme.example"}}
    answer = json.dumps({"employees": [good, {"id": "MANGLED"}]}).encode()
    for broken in (b'"2\xff"', b'"2\xff", "x": tru'):
        parsed = parse_search(answer.replace(b'"MANGLED"', broken), ["root.email"], None)
        assert [employee.id for employee in parsed.employees] == ["1"]
        assert parsed.skipped == 1  # counted and warned about, never set aside as "2?"
