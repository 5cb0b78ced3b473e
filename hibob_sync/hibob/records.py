"""HiBob's answer one record at a time, for the answer the streaming parse could not read.

One employee's record holding a byte that is not UTF-8, a value nested hundreds of levels
deep or a broken value must cost that employee, not the night: the answer is cut into its
records by a scan that only follows strings and brackets, each record is read on its own,
and a broken one is salvaged as far as it can be (bad bytes replaced, values nested too
deep cut off) so its employee can be named and set aside. What lies outside the records
must still be sound JSON, or the answer as a whole is broken (BrokenAnswer: retried).
Pure: no HTTP.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hibob_sync.bounded import MAX_DEPTH, BrokenAnswer, load_json

# A record nests below the answer's object and its list; deeper than this, a value is cut.
RECORD_DEPTH = MAX_DEPTH // 2 - 2
# What stands in for what could not be read, in the marked copy of a salvaged record:
# surrogateescape turns a byte that is not UTF-8 into one of U+DC80..U+DCFF, and a value
# nested too deep becomes U+DC00, so a reader can tell which fields held either.
NOT_UTF8 = range(0xDC80, 0xDD00)
TOO_DEEP = "\udc00"

_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]|"', re.DOTALL)
_CLOSES = {ord("["): ord("]"), ord("{"): ord("}")}
_QUOTE = ord('"')
_ID_VALUE = re.compile(
    rb'\s*:\s*(?:\{\s*"value"\s*:\s*)?("[^"\\]*(?:\\.[^"\\]*)*"|-?\d+)', re.DOTALL
)


@dataclass(frozen=True)
class Record:
    """One record: its data (salvaged where broken), and for a broken one why, and a copy
    marking what could not be read (None when the record is sound)."""

    data: dict[str, Any] | None
    problem: str | None = None
    fallback_id: str | None = None  # the ID, where nothing else of the record could be read
    marked: dict[str, Any] | None = None


def _tokens(content: bytes) -> Iterator[tuple[int, int, int]]:
    """(first byte, start, end) of each string and bracket; BrokenAnswer for an open string."""
    for match in _TOKEN.finditer(content):
        start, end = match.span()
        if end - start == 1 and content[start] == _QUOTE:
            raise BrokenAnswer("a text value is not closed, as if cut off")
        yield content[start], start, end


def split_records(content: bytes) -> list[tuple[int, int]]:
    """The byte spans of the objects in the answer's top-level ``employees`` list.

    Raises BrokenAnswer when the brackets do not pair up, there is no such list, or the
    answer around the records is not sound JSON.
    """
    stack: list[int] = []
    spans: list[tuple[int, int]] = []
    key = b""
    in_list = found = False
    start = 0
    for first, begin, end in _tokens(content):
        if first == _QUOTE:
            if len(stack) == 1:
                key = content[begin:end]  # the last string before a value is its key
            continue
        if first in _CLOSES:
            if in_list and len(stack) == 2 and first == ord("{"):
                start = begin
            if stack == [ord("{")] and first == ord("[") and key == b'"employees"':
                in_list = found = True
            stack.append(first)
            continue
        if not stack or _CLOSES[stack.pop()] != first:
            raise BrokenAnswer("its brackets do not pair up, as if cut off")
        if in_list and len(stack) == 2 and first == ord("}"):
            spans.append((start, end))
        elif in_list and len(stack) == 1:
            in_list = False
    if stack:
        raise BrokenAnswer("it is cut off")
    if not found:
        raise BrokenAnswer('it has no "employees" list')
    _check_around(content, spans)
    return spans


def _check_around(content: bytes, spans: list[tuple[int, int]]) -> None:
    """The answer with every record emptied must be sound JSON, not too deep."""
    pieces, at = [], 0
    for start, end in spans:
        pieces += [content[at:start], b"{}"]
        at = end
    pieces.append(content[at:])
    load_json(b"".join(pieces))


def _deep_spans(raw: bytes, depth: int) -> list[tuple[int, int]]:
    """The outermost containers of a record that open deeper than ``depth``."""
    spans: list[tuple[int, int]] = []
    level = 0
    start = 0
    for first, begin, end in _tokens(raw):
        if first == _QUOTE:
            continue
        if first in _CLOSES:
            level += 1
            if level == depth + 1:
                start = begin
        else:
            if level == depth + 1:
                spans.append((start, end))
            level -= 1
    return spans


def _replaced(raw: bytes, spans: list[tuple[int, int]], stand_in: bytes) -> bytes:
    pieces, at = [], 0
    for start, end in spans:
        pieces += [raw[at:start], stand_in]
        at = end
    pieces.append(raw[at:])
    return b"".join(pieces)


def read_record(raw: bytes) -> Record:
    """One record as data; a broken one salvaged, with why and a marked copy."""
    deep = _deep_spans(raw, RECORD_DEPTH)
    if not deep:
        try:
            data = json.loads(raw)
        except ValueError:  # not UTF-8, or broken JSON: salvaged below
            pass
        else:
            return Record(data if isinstance(data, dict) else None)
    try:
        data = json.loads(_replaced(raw, deep, b"null").decode("utf-8", "replace"))
        marked = json.loads(_replaced(raw, deep, b'"\\udc00"').decode("utf-8", "surrogateescape"))
    except ValueError:
        return Record(None, "HiBob sent this employee's record as broken JSON", _top_level_id(raw))
    if not isinstance(data, dict) or not isinstance(marked, dict):
        return Record(None)
    return Record(data, "unreadable", marked=marked)


def _top_level_id(raw: bytes) -> str | None:
    """The value of the record's own ``id`` (or ``/root/id``) key, read from the bytes."""
    level = 0
    for first, begin, end in _tokens(raw):
        if first != _QUOTE:
            level += 1 if first in _CLOSES else -1
            continue
        if level != 1 or raw[begin:end] not in (b'"id"', b'"/root/id"'):
            continue
        match = _ID_VALUE.match(raw, end)
        if match is None:
            continue
        try:
            value = json.loads(match.group(1).decode("utf-8", "replace"))
        except ValueError:
            return None
        text = str(value).strip()
        return text if text and "\ufffd" not in text else None  # a mangled ID names nobody
    return None


def unreadable(value: object) -> str | None:
    """Why a value of a marked record could not be read, or None. Walks lists and objects
    without recursing (they nest no deeper than RECORD_DEPTH there)."""
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            if TOO_DEEP in item:
                return f"nested more than {RECORD_DEPTH} levels deep"
            if not item.isprintable() and any(ord(ch) in NOT_UTF8 for ch in item):
                return "with bytes that are not UTF-8 text"
        elif isinstance(item, dict):
            todo += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            todo += item
    return None
