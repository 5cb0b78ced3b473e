"""Turn HiBob employees into validated HiThrive profiles.

Applies the mapping and its value rules, normalises values (emails trimmed and lower-cased,
ISO dates, display names for lists, multi-source lists de-duplicated, extra attributes in the
type the server declares) and validates each employee. A bad record is set aside with a
reason that names the field but never its value, and never stops the others; a bad value
that feeds only the manager link or an extra attribute leaves that one as it is, with a
warning.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from hibob_sync.config.entries import NO_RULE, ValueRule
from hibob_sync.config.mapping import FieldMapping
from hibob_sync.core.duplicates import by_email_holders, twice_returned
from hibob_sync.core.extra_profile import Kind, extra_value
from hibob_sync.core.status import (
    ACTIVE_STATUS,
    HIRED,
    INACTIVE_LIFECYCLE,
    INACTIVE_STATUS,
    is_active,
    is_future_hire,
    status_known,
)
from hibob_sync.hibob.answers import HibobEmployee
from hibob_sync.model import MULTI_VALUED, Failure, Value, normalise_email, normalise_value
from hibob_sync.safe_text import cleaned, has_controls

__all__ = ["Profile", "Profiles", "build_profile", "build_profiles", "is_active", "is_future_hire"]


MAX_TEXT = 255
MAX_ITEMS = 50
EMAIL = re.compile(
    r"^[^@\s\"(),:;<>\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
SHORT_DATE = re.compile(r"^(?:--)?(\d{2})-(\d{2})$")


@dataclass(frozen=True)
class Profile:
    """One employee as HiThrive should see them: HiThrive field name -> normalised value."""

    employee_id: str
    active: bool
    values: dict[str, Value]
    future_hire: bool = False  # Hired and not yet Active: created ahead, inactive
    cleaned: tuple[str, ...] = ()  # fields whose HiBob text held control characters
    keep: tuple[str, ...] = ()  # fields whose value was bad: left as HiThrive has them
    notes: tuple[str, ...] = ()  # why (warnings, one per kept field)
    status_known: bool = True  # False: neither status came; `active` in HiThrive is kept
    hired: bool = False  # lifecycle Hired: an activation now is their first day
    problems: tuple[str, ...] = ()  # a leaver's failed checks (warnings, never a skip)
    superseded_by: str | None = None  # a leaver's newer record with the same address (rehire)

    @property
    def email(self) -> str:
        """The address ("" for a leaver whose record has no valid one)."""
        value = self.values.get("email")
        return value if isinstance(value, str) else ""

    @property
    def leaver(self) -> bool:
        """HiBob says inactive and not a future hire: deactivated by ID whatever else holds."""
        return self.status_known and not self.active and not self.future_hire


@dataclass
class Profiles:
    """The outcome of the profile step: each employee HiBob returned is in exactly one of
    ``profiles`` and ``rejected``."""

    profiles: list[Profile] = field(default_factory=list)
    rejected: list[Failure] = field(default_factory=list)
    cleaned: list[Failure] = field(default_factory=list)  # synced without control characters
    warnings: list[Failure] = field(default_factory=list)  # fields left as they are
    seen_ids: set[str] = field(default_factory=set)  # every HiBob employee id returned


def _first_non_empty(values: Iterable[object]) -> object:
    for value in values:
        if value is None:
            continue
        if isinstance(value, str) and not value.strip():
            continue
        if isinstance(value, (list, tuple)) and not value:
            continue
        return value
    return None


def _flatten(values: Iterable[object]) -> list[object]:
    items: list[object] = []
    for value in values:
        if isinstance(value, (list, tuple)):
            items.extend(value)
        elif value is not None:
            items.append(value)
    return items


def _check_date(name: str, value: object) -> tuple[Value, str | None]:
    text = str(value).strip()
    if len(text) == 10 and text[4] == "-" and text[7] == "-" and text[:4].isdigit():
        try:  # the usual case, kept cheap: one call for 50,000 employees' dates
            date.fromisoformat(text)
        except ValueError:
            return None, f"{name} is not a valid date (expected YYYY-MM-DD)"
        return text, None
    if name == "birthday":
        short = SHORT_DATE.match(text)
        if short:
            month, day = int(short.group(1)), int(short.group(2))
            try:
                date(2000, month, day)  # a leap year, so 02-29 is allowed
            except ValueError:
                return None, f"{name} is not a valid date"
            return f"--{month:02d}-{day:02d}", None
    try:
        parsed = date.fromisoformat(text[:10]) if len(text) >= 10 else None
    except ValueError:
        parsed = None
    if parsed is None or not re.match(r"^\d{4}-\d{2}-\d{2}", text):
        return None, f"{name} is not a valid date (expected YYYY-MM-DD)"
    return parsed.isoformat(), None


def _manager_email(value: object, email_of: Mapping[str, str]) -> object:
    """reports-to as an email, whether HiBob gave an email, a reference object or an ID.

    The mapping may name ``work.reportsTo`` itself (an object with id and email) or a tenant
    may hold only the manager's employee ID; both resolve to the manager's email.
    """
    if isinstance(value, dict):
        value = value.get("email") or value.get("id")
    if isinstance(value, (str, int)) and not isinstance(value, bool) and "@" not in str(value):
        return email_of.get(str(value).strip(), value)
    return value


def _value_for(
    name: str,
    sources: Sequence[str],
    employee: HibobEmployee,
    email_of: Mapping[str, str],
    rule: ValueRule = NO_RULE,
) -> tuple[Value, str | None]:
    if rule:  # each source's display values through `values`; `default` when all are empty
        raw = [rule.mapped(employee.values.get(source)) for source in sources]
        value, problem = _combined(name, raw, email_of)
        if problem is None and value in (None, ()) and rule.default is not None:
            return _combined(name, [rule.default], email_of)
        return value, problem
    if len(sources) == 1 and name not in MULTI_VALUED:
        return _single(name, employee.values.get(sources[0]), email_of)
    return _combined(name, [employee.values.get(source) for source in sources], email_of)


def _combined(
    name: str, raw: list[object], email_of: Mapping[str, str]
) -> tuple[Value, str | None]:
    if name in MULTI_VALUED:
        value = normalise_value(name, _flatten(raw))
        assert isinstance(value, tuple)
        if len(value) > MAX_ITEMS:
            return None, f"{name} has {len(value)} entries; at most {MAX_ITEMS} are allowed"
        if any(len(item) > MAX_TEXT for item in value):
            return None, f"{name} has an entry longer than {MAX_TEXT} characters"
        return value, None
    return _single(name, _first_non_empty(raw), email_of)


def _single(name: str, chosen: object, email_of: Mapping[str, str]) -> tuple[Value, str | None]:
    """A single-valued field from its chosen source value (see _value_for)."""
    if isinstance(chosen, str):
        text = chosen.strip()
        if not text:
            return None, None
        if name not in ("start_date", "birthday", "email", "manager_email"):
            # The common case, without the general normalisation.
            if len(text) > MAX_TEXT:
                return None, f"{name} is longer than {MAX_TEXT} characters"
            return text, None
    elif isinstance(chosen, (list, tuple)):
        chosen = _first_non_empty(chosen)
    if name == "manager_email" and chosen is not None:
        chosen = _manager_email(chosen, email_of)
    if chosen is None:
        return None, None
    if isinstance(chosen, dict):
        return None, f"{name} maps to a HiBob object, not a value (map one of its sub-fields)"
    if name in ("start_date", "birthday"):
        return _check_date(name, chosen)
    value = normalise_value(name, chosen)
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return None, f"{name} is longer than {MAX_TEXT} characters"
    if name == "manager_email" and value is not None and not EMAIL.match(str(value)):
        return None, "manager_email is not a valid email address"
    return value, None


Fields = tuple[tuple[str, tuple[str, ...], ValueRule], ...]


def build_profile(
    employee: HibobEmployee,
    mapping: FieldMapping,
    email_of: Mapping[str, str] | None = None,
    fields: Fields = (),
    kinds: Mapping[str, Kind] | None = None,
) -> Profile | Failure:
    """Map and validate one employee; ``email_of`` maps HiBob IDs to emails (for managers),
    ``fields`` is ``_fields(mapping)`` when the caller has it, ``kinds`` the SCIM type of
    each extra attribute (text where not given)."""
    if employee.problem:  # HiBob's record of them could not be read in full
        return Failure(employee.id, None, employee.problem)
    rule = mapping.rule("email")
    email_raw = _first_non_empty(
        rule.mapped(employee.values.get(s)) for s in mapping.sources["email"]
    )
    email = normalise_email(str(email_raw)) if email_raw is not None else None
    if email is None:
        return Failure(employee.id, None, "no email in HiBob")
    if not EMAIL.match(email) or len(email) > MAX_TEXT or has_controls(email):
        return Failure(employee.id, None, "the email in HiBob is not a valid address")
    values: dict[str, Value] = {"email": email}
    problems: list[str] = []
    scrubbed: list[str] = []
    keep: list[str] = []
    notes: list[str] = []
    email_of = email_of or {}
    for name, sources, rule in fields or _fields(mapping):
        value, problem = _value_for(name, sources, employee, email_of, rule)
        if value is not None and not problem and _holds_controls(value):
            if name == "manager_email":
                problem = "manager_email is not a valid email address"
            else:
                value = _cleaned(value)
                scrubbed.append(name)
        if problem and name == "manager_email":  # one bad link: leave it, keep the person
            keep.append(name)
            notes.append(f"{problem}; reports-to left unchanged")
        elif problem:
            problems.append(problem)
        else:
            values[name] = value
    for key, sources in mapping.extra.items():
        kind = (kinds or {}).get(key, Kind())
        value, problem = extra_value(key, sources, employee, mapping.rule(key), kind)
        if problem:
            keep.append(key)
            notes.append(f"{problem}; left as it is")
        elif value is not None and _holds_controls(value):
            values[key] = _cleaned(value)
            scrubbed.append(key)
        else:
            values[key] = value
    if problems:
        return Failure(employee.id, email, "; ".join(problems))
    status = (employee.status or "").strip().lower()
    lifecycle = (employee.lifecycle_status or "").strip().lower()
    if status in (ACTIVE_STATUS, INACTIVE_STATUS):  # is_active, without reading them twice
        active = status == ACTIVE_STATUS
    else:
        active = lifecycle not in INACTIVE_LIFECYCLE
    return Profile(
        employee.id,
        active,
        values,
        lifecycle == HIRED and not active,
        cleaned=tuple(scrubbed),
        keep=tuple(keep),
        notes=tuple(notes),
        status_known=bool(status or lifecycle),
        hired=lifecycle == HIRED,
    )


def _fields(mapping: FieldMapping) -> Fields:
    """(field, sources, rule) past email, in order (build_profiles works it out once a run)."""
    return tuple(
        (name, mapping.sources[name], mapping.rule(name)) for name in mapping if name != "email"
    )


def _holds_controls(value: Value) -> bool:
    if isinstance(value, str):
        return not value.isprintable() and has_controls(value)  # isprintable: in C
    return isinstance(value, tuple) and any(
        not item.isprintable() and has_controls(item) for item in value
    )


def _cleaned(value: Value) -> Value:
    """A text value without control characters (safe_text.cleaned); lists stay sorted."""
    if isinstance(value, str):
        return cleaned(value) or None
    assert isinstance(value, tuple)
    return tuple(sorted({text for item in value if (text := cleaned(item))}))


def _leaver(employee: HibobEmployee, failure: Failure) -> Profile | None:
    """A leaver whose record fails a check: still deactivated by ID (spec "Who is active").

    Only the address is kept (when valid): a leaver's other fields are never written.
    """
    if is_active(employee) or is_future_hire(employee) or not status_known(employee):
        return None
    values: dict[str, Value] = {"email": failure.email}
    return Profile(employee.id, False, values, problems=(failure.reason,))


def build_profiles(
    employees: Sequence[HibobEmployee],
    mapping: FieldMapping,
    kinds: Mapping[str, Kind] | None = None,
) -> Profiles:
    """Map and validate every employee; resolve duplicate emails (duplicates.py).

    ``kinds``: the SCIM type of each extra attribute, as the server declares it."""
    result = Profiles()
    fields = _fields(mapping)
    by_email: dict[str, list[Profile]] = defaultdict(list)
    email_of = {
        employee.id: str(email)
        for employee in employees
        if (email := _first_non_empty(employee.values.get(s) for s in mapping.sources["email"]))
    }
    twice = twice_returned(employees)
    for employee_id in sorted(twice):
        result.rejected.append(
            Failure(employee_id, None, "HiBob returned this employee ID more than once")
        )
    for employee in employees:
        result.seen_ids.add(employee.id)
        if employee.id in twice:
            continue
        outcome = build_profile(employee, mapping, email_of, fields, kinds)
        if isinstance(outcome, Failure):
            leaver = _leaver(employee, outcome)
            if leaver is None:
                result.rejected.append(outcome)
            elif leaver.email:
                by_email[leaver.email].append(leaver)
            else:
                result.profiles.append(leaver)
            continue
        by_email[outcome.email].append(outcome)
        result.warnings += [Failure(outcome.employee_id, outcome.email, n) for n in outcome.notes]
        if outcome.cleaned:
            result.cleaned.append(
                Failure(
                    outcome.employee_id,
                    outcome.email,
                    f"control characters removed from {', '.join(outcome.cleaned)} "
                    "(fix the text in HiBob)",
                )
            )
    for email, holders in by_email.items():
        if len(holders) == 1:
            result.profiles.append(holders[0])
        else:
            kept, aside = by_email_holders(email, holders)
            result.profiles += kept
            result.rejected += aside
    result.profiles.sort(key=lambda p: p.employee_id)
    result.rejected.sort(key=lambda f: f.employee_id or "")
    return result
