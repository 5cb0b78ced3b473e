"""Mapping mistakes caught at set-up: against the company's field catalogue, and its values.

A typo (`work.titel`) or a field of the wrong kind (`email: work.title`) passes the syntax
check, and the first run then sets aside every employee, blaming HiBob's data. With the
catalogue at hand, `map set`, `map validate` and `check` refuse such a mapping (78) and
offer the closest fields; `check` also samples the values that come back.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from hibob_sync.config.mapping import FieldMapping
from hibob_sync.hibob.answers import CatalogueField, catalogue_field, index_of
from hibob_sync.model import ALL_FIELDS
from hibob_sync.safe_text import shown

# Catalogue types each HiThrive field can take (HiBob's `type`); fields not listed take any.
# A type the tool does not know is never judged: HiBob may add types.
_LISTS = {"list", "multi-list", "hierarchy-list", "multi-select"}
_TEXTS = {"text", "textarea", "string"}
ACCEPTS: dict[str, set[str]] = {
    "email": _TEXTS | {"email"},
    "start_date": {"date"},
    "birthday": {"date", "short-date"},
    "teams": _LISTS | _TEXTS,
    "groups": _LISTS | _TEXTS,
    "manager_email": _TEXTS | {"email", "employee-reference"},
}
KNOWN_TYPES = (
    _LISTS
    | _TEXTS
    | {"email", "date", "number", "employee-reference", "boolean", "currency", "percent"}
)
_WANTED = {
    "email": "a text or email field",
    "start_date": "a date field",
    "birthday": "a date field",
    "teams": "a list or text field",
    "groups": "a list or text field",
    "manager_email": "an employee reference (e.g. work.reportsTo) or an email field",
}
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LIST_ID = re.compile(r"^\d{5,}$")


@dataclass(frozen=True)
class Problem:
    """One mapped source the catalogue (or its values) says is wrong; ``field`` is HiThrive's."""

    field: str
    source: str
    text: str

    @property
    def key(self) -> str:
        """Where it is in mapping.yaml: `mapping.job_title` or `extra.timezone`."""
        return f"{'mapping' if self.field in ALL_FIELDS else 'extra'}.{self.field}"


def _name(entry: CatalogueField) -> str:
    return f"{entry.id} ({shown(entry.name)})"


def suggestions(source: str, catalogue: Sequence[CatalogueField], limit: int = 3) -> list[str]:
    """The closest catalogue fields to a mistyped source, by ID and by display name.

    Only those about as close as the best one, so a plain typo gets one answer.
    """
    wanted = source.casefold()
    tail = wanted.rsplit(".", 1)[-1]
    scored: list[tuple[float, CatalogueField]] = []
    for entry in catalogue:
        by_id = difflib.SequenceMatcher(None, wanted, entry.id.casefold()).ratio()
        by_name = difflib.SequenceMatcher(None, tail, entry.name.casefold()).ratio()
        scored.append((max(by_id, by_name), entry))
    scored.sort(key=lambda pair: -pair[0])
    best = scored[0][0] if scored else 0.0
    return [_name(e) for score, e in scored[:limit] if score >= 0.6 and score >= best - 0.05]


def did_you_mean(source: str, catalogue: Sequence[CatalogueField]) -> str:
    """`; did you mean work.title (Job title)?`, or nothing when nothing is close."""
    close = suggestions(source, catalogue)
    return f"; did you mean {' or '.join(close)}?" if close else ""


def _type_problem(name: str, source: str, entry: CatalogueField) -> str | None:
    kind = entry.type.strip().lower()
    if name not in ACCEPTS or kind not in KNOWN_TYPES:
        return None
    if source != entry.id:  # a sub-field, e.g. work.reportsTo.email
        sub = source[len(entry.id) + 1 :]
        if kind == "employee-reference" and name in ("manager_email", "email"):
            return None if sub in ("email", "id") or name == "email" else _mismatch(name, entry)
        return None
    return None if kind in ACCEPTS[name] else _mismatch(name, entry)


def _mismatch(name: str, entry: CatalogueField) -> str:
    return f"{_name(entry)} is a {entry.type} field; {name} needs {_WANTED[name]}"


def mapping_problems(mapping: FieldMapping, catalogue: Sequence[CatalogueField]) -> list[Problem]:
    """Every mapped source the catalogue does not have, or of a type its field cannot take."""
    index = index_of(catalogue)
    problems: list[Problem] = []
    for name, sources in mapping.entries():
        for source in sources:
            entry = catalogue_field(source, index)
            if entry is None:
                text = f"HiBob has no field {source}{did_you_mean(source, catalogue)}"
                problems.append(Problem(name, source, text))
                continue
            if name not in ALL_FIELDS:
                continue  # an extra attribute's type is judged against the SCIM server's
            mismatch = _type_problem(name, source, entry)
            if mismatch:
                problems.append(Problem(name, source, mismatch))
    return problems


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value[:10])
    except ValueError:
        return bool(re.match(r"^(--)?\d\d-\d\d$", value))
    return True


def _is_address(value: str) -> bool:
    return _ADDRESS.match(value) is not None


_LOOKS_RIGHT: dict[str, tuple[Callable[[str], bool], str]] = {
    "email": (_is_address, "are addresses"),
    "manager_email": (_is_address, "are addresses or employee IDs"),
    "start_date": (_is_date, "are dates"),
    "birthday": (_is_date, "are dates"),
}


def _texts(values: Iterable[object]) -> list[str]:
    out: list[str] = []
    for value in values:
        items = value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if isinstance(item, dict):  # an employee reference (work.reportsTo)
                item = item.get("email") or item.get("id")
            if item is not None and str(item).strip():
                out.append(str(item).strip())
    return out


def sample_problems(
    mapping: FieldMapping,
    values_of: Mapping[str, Iterable[object]],
    employee_ids: frozenset[str] | set[str] = frozenset(),
) -> tuple[list[Problem], list[str]]:
    """Judge the values that came back per source: problems, and lines that say all is well.

    A field fails when most of its values are of the wrong kind (a few bad records are the
    run's business: they are set aside and named). ``employee_ids``: HiBob employee IDs, which a
    manager field may hold instead of addresses.
    """
    problems: list[Problem] = []
    notes: list[str] = []
    for name in mapping:
        for source in mapping.sources[name]:
            texts = _texts(values_of.get(source, ()))
            if not texts:
                continue
            if name in _LOOKS_RIGHT:
                test, words = _LOOKS_RIGHT[name]
                if name == "manager_email":
                    good = sum(1 for t in texts if test(t) or t in employee_ids)
                else:
                    good = sum(1 for t in texts if test(t))
                line = f"{name}: {good} of {len(texts)} values of {source} {words}"
                if good * 2 < len(texts):
                    problems.append(Problem(name, source, line))
                else:
                    notes.append(line)
            elif name in ("job_title", "teams", "groups"):
                ids = sum(1 for t in texts if _LIST_ID.match(t))
                if ids * 2 > len(texts):
                    line = (
                        f"{name}: {ids} of {len(texts)} values of {source} look like list IDs, "
                        "not names"
                    )
                    problems.append(Problem(name, source, line))
    return problems, notes
