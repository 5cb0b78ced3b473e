"""The sandbox company's mutable employee store (the generator is in ``company``).

Machine values are stored as HiBob sends them (list item IDs, ISO dates); ``work.reportsTo``
is stored as the manager's ID and rendered as an employee reference object, so changing a
manager's email shows up in every report's ``reportsTo`` the way it would in HiBob.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date

import hibob_sync.sandbox.names as names
from hibob_sync.sandbox.catalogue import (
    FIELDS_BY_ID,
    GROUPS_FIELD,
    LIST_FIELDS,
    REPORTS_TO,
    TEAMS_FIELD,
)

DOMAIN = "acme.example"
_LIST_POOLS: dict[str, tuple[str, ...]] = {
    "work.title": names.TITLES,
    "work.department": names.DEPARTMENTS,
    "work.site": names.SITES,
    TEAMS_FIELD: names.TEAMS,
    GROUPS_FIELD: names.GROUPS,
    "address.country": names.COUNTRIES,
    "payroll.employment.type": names.EMPLOYMENT_TYPES,
}
# The awkward cases every generated company of a dozen people or more contains.
AWKWARD_CASES: tuple[str, ...] = (
    "no_email",
    "duplicate_email",
    "mixed_case_email",
    "padded_email",
    "missing_birth_date",
    "non_latin_name",
    "hired_future_start",
    "terminated_manager",
)


# Access status (internal.status) per lifecycle status, from HiBob's help centre (hibob-api.md):
# Hired is Inactive until the start date, Employed and Garden leave are Active, Terminated is
# Inactive; the leave types follow the company's settings (``Company.leave_status``).
LEAVE_TYPES: tuple[str, ...] = ("Leave", "Parental leave")
ACCESS_STATUS: dict[str, str] = {"Employed": "Active", "Garden leave": "Active"}


@dataclass(frozen=True)
class Row:
    """One employee as the server sees it at one version: machine values, references resolved."""

    id: str
    active: bool
    lifecycle: str | None
    email_key: str | None
    machine: dict[str, object]


@dataclass(frozen=True)
class Snapshot:
    """An immutable view of the company, rebuilt only when the data changes."""

    version: int
    rows: tuple[Row, ...]
    by_id: dict[str, Row]
    lists: dict[str, dict[str, str]]


def _make_lists() -> dict[str, dict[str, str]]:
    """List items with HiBob-like numeric IDs; the same for every seed so mappings stay valid."""
    rng = random.Random("hibob-sandbox-lists")
    lists: dict[str, dict[str, str]] = {}
    for field_id in LIST_FIELDS:
        lists[field_id] = {
            str(rng.randrange(100_000_000, 999_999_999)): n for n in _LIST_POOLS[field_id]
        }
    return lists


_COMPANY_IDS = itertools.count(1)


class Company:
    """Employees keyed by ``root.id``; every mutator is thread-safe and bumps ``version``."""

    def __init__(
        self, *, today: date | None = None, seed: int = 0, leave_status: str = "Active"
    ) -> None:
        self.uid = next(_COMPANY_IDS)  # tells answer caches apart when a company is swapped
        self.today = today or date.today()
        # The company's leave settings: whether people on each leave type keep access.
        self.leave_status: dict[str, str] = dict.fromkeys(LEAVE_TYPES, leave_status)
        self.version = 0
        self.awkward: dict[str, list[str]] = {case: [] for case in AWKWARD_CASES}
        self._lists = _make_lists()
        self._employees: dict[str, dict[str, object]] = {}
        self._hidden: set[str] = set()  # kept, but left out of every answer (a HiBob incident)
        self._lock = threading.RLock()
        self._id_rng = random.Random(f"add-{seed}")
        self._snapshot: Snapshot | None = None

    # -- reading ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._employees)

    def __contains__(self, employee_id: object) -> bool:
        return employee_id in self._employees

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids())

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._employees)

    def get(self, employee_id: str) -> dict[str, object]:
        """A copy of the machine values by field ID, ``work.reportsTo`` as a reference object."""
        with self._lock:
            machine = dict(self._employees[employee_id])
            machine[REPORTS_TO] = self._reference(machine.get(REPORTS_TO))
            return machine

    def display(self, employee_id: str, field_id: str) -> object:
        """The display value HiBob would show for a list field (its item name), else machine."""
        with self._lock:
            value = self._employees[employee_id].get(field_id)
            if field_id in self._lists and value is not None:
                return self._lists[field_id].get(str(value), value)
            return self.get(employee_id).get(field_id)

    def _reference(self, manager_id: object) -> dict[str, object] | None:
        """The employee reference HiBob renders for a manager (None if there is none)."""
        manager = None if manager_id is None else self._employees.get(str(manager_id))
        if manager is None:
            return None
        return {
            "id": manager["root.id"],
            "email": manager["root.email"],
            "firstName": manager["root.firstName"],
            "surname": manager["root.surname"],
            "displayName": manager["root.displayName"],
        }

    def list_items(self, field_id: str) -> dict[str, str]:
        """A list field's items: item ID -> name."""
        with self._lock:
            return dict(self._lists[field_id])

    def find_by_email(self, email: str) -> list[str]:
        """IDs whose email matches after trimming and case-folding (duplicates exist)."""
        key = email.strip().casefold()
        return [row.id for row in self.snapshot().rows if row.email_key == key]

    def by_status(self, lifecycle_status: str) -> list[str]:
        with self._lock:
            return [
                i
                for i, rec in self._employees.items()
                if rec.get("internal.lifecycleStatus") == lifecycle_status
            ]

    def snapshot(self) -> Snapshot:
        """The current data as immutable rows, cached until the next change."""
        with self._lock:
            if self._snapshot is None or self._snapshot.version != self.version:
                self._snapshot = self._build_snapshot()
            return self._snapshot

    def _build_snapshot(self) -> Snapshot:
        references: dict[str, dict[str, object] | None] = {}
        rows: list[Row] = []
        for employee_id, record in self._employees.items():
            if employee_id in self._hidden:
                continue
            machine = dict(record)
            manager_id = record.get(REPORTS_TO)
            if manager_id is not None:
                key = str(manager_id)
                if key not in references:
                    references[key] = self._reference(key)
                machine[REPORTS_TO] = references[key]  # shared: rows are never mutated
            email = record.get("root.email")
            rows.append(
                Row(
                    id=employee_id,
                    active=record.get("internal.status") == "Active",
                    lifecycle=_text(record.get("internal.lifecycleStatus")),
                    email_key=email.strip().casefold() if isinstance(email, str) else None,
                    machine=machine,
                )
            )
        lists = {k: dict(v) for k, v in self._lists.items()}
        return Snapshot(self.version, tuple(rows), {r.id: r for r in rows}, lists)

    # -- mutators --------------------------------------------------------------------------
    def update(self, employee_id: str, values: Mapping[str, object]) -> None:
        """Set field values; list fields take an item ID or a name (new names become items)."""
        with self._lock:
            record = self._employees[employee_id]
            for field_id, value in values.items():
                if field_id == "root.id":
                    raise ValueError("root.id never changes in HiBob")
                if field_id not in FIELDS_BY_ID:
                    raise KeyError(f"the sandbox has no field {field_id!r}")
                record[field_id] = self._to_machine(field_id, value)
            self.version += 1

    def _to_machine(self, field_id: str, value: object) -> object:
        if value is None or field_id not in self._lists:
            if field_id == REPORTS_TO and isinstance(value, Mapping):
                return value.get("id")
            return value
        items = self._lists[field_id]
        text = str(value)
        if text in items:
            return text
        for item_id, name in items.items():
            if name == text:
                return item_id
        item_id = str(self._id_rng.randrange(100_000_000, 999_999_999))
        items[item_id] = text
        return item_id

    def access_status(self, lifecycle: str, start_date: str | None = None) -> str:
        """The internal.status HiBob gives a lifecycle status (see ACCESS_STATUS)."""
        if lifecycle == "Hired":
            started = start_date is not None and start_date <= self.today.isoformat()
            return "Active" if started else "Inactive"
        if lifecycle in self.leave_status:
            return self.leave_status[lifecycle]
        return ACCESS_STATUS.get(lifecycle, "Inactive")

    def set_leave_status(self, leave_type: str, status: str) -> None:
        """Change the company's leave setting; everyone on that leave follows, as in HiBob."""
        if leave_type not in LEAVE_TYPES or status not in ("Active", "Inactive"):
            raise ValueError("a leave type of LEAVE_TYPES, and Active or Inactive")
        with self._lock:
            self.leave_status[leave_type] = status
            for employee_id in self.by_status(leave_type):
                self._employees[employee_id]["internal.status"] = status
            self.version += 1

    def hire(self, values: Mapping[str, object] | None = None, *, start_in_days: int = 14) -> str:
        """Add a future hire: Hired, Inactive until the start date (``start`` turns them on)."""
        start = date.fromordinal(self.today.toordinal() + start_in_days).isoformat()
        return self.add(
            {
                "internal.lifecycleStatus": "Hired",
                "internal.status": self.access_status("Hired", start),
                "work.startDate": start,
                **(values or {}),
            }
        )

    def start(self, employee_id: str) -> None:
        """The start date has come: HiBob makes the hire Employed and Active."""
        self.set_lifecycle(employee_id, "Employed")

    def set_lifecycle(self, employee_id: str, lifecycle: str) -> None:
        """Move to a lifecycle status; the access status follows (leave: company settings)."""
        start = self.get(employee_id).get("work.startDate")
        status = self.access_status(lifecycle, start if isinstance(start, str) else None)
        self.update(employee_id, {"internal.lifecycleStatus": lifecycle, "internal.status": status})

    def terminate(self, employee_id: str, termination_date: str | None = None) -> None:
        """Make an employee a leaver, as HiBob does once the termination date has passed."""
        self.update(
            employee_id,
            {
                "internal.lifecycleStatus": "Terminated",
                "internal.status": "Inactive",
                "internal.terminationDate": termination_date or self.today.isoformat(),
            },
        )

    def rehire(self, employee_id: str, start_date: str | None = None) -> None:
        """Bring a leaver back under the same ``root.id``, as HiBob's rehire does."""
        self.update(
            employee_id,
            {
                "internal.lifecycleStatus": "Employed",
                "internal.status": "Active",
                "internal.terminationDate": None,
                "work.startDate": start_date or self.today.isoformat(),
            },
        )

    def add(self, values: Mapping[str, object] | None = None) -> str:
        """Add an employed person (defaults filled in) and return the new ``root.id``."""
        with self._lock:
            employee_id = self._new_id()
            number = len(self._employees) + 1
            self._employees[employee_id] = {
                "root.id": employee_id,
                "root.email": None,
                "root.firstName": "New",
                "root.surname": f"Starter {number}",
                "root.displayName": f"New Starter {number}",
                "work.title": None,
                "work.department": None,
                "work.site": None,
                TEAMS_FIELD: None,
                GROUPS_FIELD: None,
                "work.employeeIdInCompany": 100_000 + number,
                "work.startDate": self.today.isoformat(),
                "personal.birthDate": None,
                REPORTS_TO: None,
                "internal.lifecycleStatus": "Employed",
                "internal.status": "Active",
                "internal.terminationDate": None,
            }
            self.version += 1
            if values:
                self.update(employee_id, values)
            return employee_id

    def hide(self, employee_ids: Iterable[str] | None = None) -> None:
        """Leave employees (everyone: None) out of every answer, as a partial or empty
        answer from HiBob would; they stay in the company and ``show`` brings them back."""
        with self._lock:
            chosen = set(self._employees) if employee_ids is None else set(employee_ids)
            unknown = chosen - set(self._employees)
            if unknown:
                raise KeyError(f"no employee {sorted(unknown)[0]!r}")
            self._hidden |= chosen
            self.version += 1

    def show(self, employee_ids: Iterable[str] | None = None) -> None:
        """Answer with hidden employees again (everyone: None)."""
        with self._lock:
            self._hidden -= self._hidden if employee_ids is None else set(employee_ids)
            self.version += 1

    @property
    def hidden(self) -> frozenset[str]:
        """The employees left out of the answers."""
        with self._lock:
            return frozenset(self._hidden)

    def remove(self, employee_id: str) -> None:
        """Delete an employee outright (HiBob admins can); references to them render as null."""
        with self._lock:
            del self._employees[employee_id]
            self._hidden.discard(employee_id)
            self.version += 1

    def _new_id(self) -> str:
        while True:
            candidate = str(self._id_rng.randrange(10**18, 10**19))
            if candidate not in self._employees:
                return candidate

    def load(self, records: list[dict[str, object]]) -> None:
        """Bulk insert used by the generator (no per-record version bump)."""
        with self._lock:
            for record in records:
                self._employees[str(record["root.id"])] = record
            self.version += 1

    @property
    def lists(self) -> dict[str, dict[str, str]]:
        with self._lock:
            return {k: dict(v) for k, v in self._lists.items()}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
