"""A seeded generator of a fake company with the rough edges real HiBob tenants have.

Deterministic for (n, seed, today) and fast enough for 50,000 employees. Every company of a
dozen people or more contains each case in ``AWKWARD_CASES``; ``Company.awkward`` names who.
"""

from __future__ import annotations

import random
from datetime import date

import hibob_sync.sandbox.names as names
from hibob_sync.sandbox.catalogue import GROUPS_FIELD, LIST_FIELDS, REPORTS_TO, TEAMS_FIELD
from hibob_sync.sandbox.roster import AWKWARD_CASES, DOMAIN, Company, Row, Snapshot

__all__ = ["AWKWARD_CASES", "Company", "Row", "Snapshot", "generate_company"]


def generate_company(
    n: int, seed: int = 0, *, today: date | None = None, leave_status: str = "Active"
) -> Company:
    """Build ``n`` employees, deterministic for (n, seed, today), with the awkward cases planted.

    ``today`` anchors the relative dates (future start of new hires, past terminations); it
    defaults to the real date so "future" stays future. ``leave_status`` is the company's
    leave setting: whether people on leave keep access (Active) or not (Inactive).
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    rng = random.Random(seed)
    company = Company(today=today, seed=seed, leave_status=leave_status)
    t = company.today.toordinal()
    ids: list[str] = []
    seen_ids: set[str] = set()
    while len(ids) < n:
        candidate = str(rng.randrange(10**18, 10**19))
        if candidate not in seen_ids:
            seen_ids.add(candidate)
            ids.append(candidate)
    managers = [None] + [
        rng.randrange(0, i) if i < 10 else rng.randrange(i // 8, i // 4) for i in range(1, n)
    ]
    lifecycle = ["Employed"] + [_random_lifecycle(rng.random()) for _ in range(1, n)]

    planted: dict[str, list[int]] = {case: [] for case in AWKWARD_CASES}
    pool = list(range(1, n))
    rng.shuffle(pool)
    few = max(1, n // 33)
    for case, count in (
        ("no_email", 1),
        ("duplicate_email", 2),
        ("mixed_case_email", few),
        ("padded_email", max(1, n // 100)),
        ("missing_birth_date", few),
        ("non_latin_name", max(1, n // 20)),
        ("hired_future_start", few),
    ):
        if len(pool) < count:
            break
        planted[case] = [pool.pop() for _ in range(count)]
    for case in ("no_email", "duplicate_email", "mixed_case_email", "padded_email"):
        for i in planted[case]:
            lifecycle[i] = "Employed"
    for i in planted["hired_future_start"]:
        lifecycle[i] = "Hired"
    taken = {i for indices in planted.values() for i in indices}
    with_reports = sorted({m for m in managers if m} - taken)
    if with_reports:
        chosen = rng.choice(with_reports)
        planted["terminated_manager"] = [chosen]
        lifecycle[chosen] = "Terminated"

    non_latin = set(planted["non_latin_name"])
    no_birth = set(planted["missing_birth_date"])
    items = {f: list(company.list_items(f)) for f in LIST_FIELDS}
    ceo_title = items["work.title"][0]
    locals_seen: dict[str, int] = {}
    records: list[dict[str, object]] = []
    for i in range(n):
        if i in non_latin:
            first, surname, alias_first, alias_last = rng.choice(names.NON_LATIN_NAMES)
        else:
            first, surname = rng.choice(names.FIRST_NAMES), rng.choice(names.SURNAMES)
            alias_first, alias_last = first.lower(), surname.lower()
        local = f"{alias_first}.{alias_last}"
        count = locals_seen.get(local, 0) + 1
        locals_seen[local] = count
        if count > 1:
            local = f"{local}{count}"
        status = lifecycle[i]
        start = t + rng.randint(7, 90) if status == "Hired" else t - rng.randint(30, 15 * 365)
        termination: str | None = None
        if status == "Terminated":
            termination = date.fromordinal(rng.randint(min(start + 20, t - 1), t - 1)).isoformat()
        elif status == "Garden leave":
            termination = date.fromordinal(t + rng.randint(1, 60)).isoformat()
        manager = managers[i]
        records.append(
            {
                "root.id": ids[i],
                "root.email": f"{local}@{DOMAIN}",
                "root.firstName": first,
                "root.surname": surname,
                "root.displayName": f"{first} {surname}",
                "work.title": ceo_title if i == 0 else rng.choice(items["work.title"][1:]),
                "work.department": items["work.department"][0]
                if i == 0
                else rng.choice(items["work.department"][1:]),
                "work.site": rng.choice(items["work.site"]),
                TEAMS_FIELD: rng.choice(items[TEAMS_FIELD]) if rng.random() < 0.9 else None,
                GROUPS_FIELD: rng.choice(items[GROUPS_FIELD]) if rng.random() < 0.6 else None,
                "work.employeeIdInCompany": 1000 + i,
                "work.startDate": date.fromordinal(start).isoformat(),
                "personal.birthDate": None
                if i in no_birth
                else date.fromordinal(t - rng.randint(20 * 365, 64 * 365)).isoformat(),
                REPORTS_TO: None if manager is None else ids[manager],
                "internal.lifecycleStatus": status,
                "internal.status": company.access_status(
                    status, date.fromordinal(start).isoformat()
                ),
                "internal.terminationDate": termination,
            }
        )
    _derived(records, items, company)
    _plant_emails(records, planted)
    company.load(records)
    company.awkward = {case: [ids[i] for i in planted[case]] for case in AWKWARD_CASES}
    return company


def _derived(
    records: list[dict[str, object]], items: dict[str, list[str]], company: Company
) -> None:
    """Country from the site, employment type from the position: drawn from no random
    stream, so every company generated before these fields existed stays the same."""
    sites = company.list_items("work.site")
    country_id = {name: item for item, name in company.list_items("address.country").items()}
    kinds = items["payroll.employment.type"]
    for index, record in enumerate(records):
        site = sites.get(str(record["work.site"]), "")
        record["address.country"] = country_id.get(names.COUNTRY_OF_SITE.get(site, ""))
        record["payroll.employment.type"] = kinds[
            2 if index % 13 == 7 else 1 if index % 9 == 4 else 0
        ]


def _random_lifecycle(r: float) -> str:
    if r < 0.08:
        return "Terminated"
    if r < 0.105:
        return "Leave"
    if r < 0.11:
        return "Parental leave"
    if r < 0.12:
        return "Garden leave"
    if r < 0.14:
        return "Hired"
    return "Employed"


def _plant_emails(records: list[dict[str, object]], planted: dict[str, list[int]]) -> None:
    for i in planted["no_email"]:
        records[i]["root.email"] = None
    if len(planted["duplicate_email"]) == 2:
        first, second = planted["duplicate_email"]
        records[second]["root.email"] = records[first]["root.email"]
    for i in planted["mixed_case_email"]:
        local, _, domain = str(records[i]["root.email"]).partition("@")
        mixed = ".".join(part.capitalize() for part in local.split("."))
        records[i]["root.email"] = f"{mixed}@{domain.capitalize()}"
    for i in planted["padded_email"]:
        records[i]["root.email"] = f"  {records[i]['root.email']} "
