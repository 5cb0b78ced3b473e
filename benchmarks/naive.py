"""The baseline: what most HRIS-to-SCIM sync scripts do, to measure hibob-sync against.

Every night: fetch every employee from HiBob, list every SCIM user, then PUT the whole user
(or POST it when it does not exist yet), one request at a time, with no diffing. It reads the
same mapping.yaml and credentials (env vars) as hibob-sync, and prints a JSON summary.

It is deliberately plain but not careless: one keep-alive session, managers resolved from the
listing and from users created earlier in the same run, failures counted and skipped.
``--max-writes`` stops after that many writes so that very large nights can be sampled; the
summary then says how many writes the full night would have sent and how long the sampled
ones took, and the benchmark extrapolates.

    HIBOB_SERVICE_USER_ID=... HIBOB_SERVICE_USER_TOKEN=... HITHRIVE_SCIM_TOKEN=... \\
        python benchmarks/naive.py --hibob-url URL --scim-url URL --mapping mapping.yaml
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests
import yaml

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
HITHRIVE = "urn:ietf:params:scim:schemas:extension:hithrive:2.0:User"
TIMEOUT = (10, 300)


def _dig(data: Any, source: str) -> Any:
    """A nested value by HiBob field ID; root fields sit at the top of an employee."""
    parts = source.split(".")
    if parts[0] == "root":
        parts = parts[1:]
    for part in parts:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _value(employee: dict[str, Any], source: str) -> Any:
    """The display value for lists (item names), the machine value for dates and emails."""
    machine = _dig(employee, source)
    if source.endswith(("Date", "email")):
        return machine
    shown = _dig(employee.get("humanReadable") or {}, source)
    return shown if shown is not None else machine


def _sources(mapping: dict[str, Any], name: str) -> list[str]:
    raw = mapping.get(name)
    if raw is None:
        return []
    return [raw] if isinstance(raw, str) else list(raw)


def _first(employee: dict[str, Any], sources: list[str]) -> Any:
    for source in sources:
        value = _value(employee, source)
        if value not in (None, ""):
            return value
    return None


def _resource(
    employee: dict[str, Any], mapping: dict[str, Any], email: str, manager_id: str | None
) -> dict[str, Any]:
    """The whole SCIM user for one employee, rebuilt from scratch every night."""
    status = _dig(employee, "internal.status")
    extension: dict[str, Any] = {}
    for name, attribute in (("start_date", "startDate"), ("birthday", "birthDate")):
        value = _first(employee, _sources(mapping, name))
        if value:
            extension[attribute] = value
    for name in ("teams", "groups"):
        items = [_value(employee, s) for s in _sources(mapping, name)]
        extension[name] = [str(i) for i in items if i]
    enterprise: dict[str, Any] = {}
    number = _first(employee, _sources(mapping, "employee_id"))
    if number is not None:
        enterprise["employeeNumber"] = str(number)
    if manager_id:
        enterprise["manager"] = {"value": manager_id}
    title = _first(employee, _sources(mapping, "job_title"))
    resource: dict[str, Any] = {
        "schemas": [CORE, ENTERPRISE, HITHRIVE],
        "userName": email,
        "externalId": str(employee.get("id")),
        "active": status != "Inactive",
        "emails": [{"value": email, "type": "work", "primary": True}],
        ENTERPRISE: enterprise,
        HITHRIVE: extension,
    }
    if title:
        resource["title"] = str(title)
    return resource


def run(
    hibob_url: str, scim_url: str, mapping: dict[str, Any], max_writes: int | None
) -> dict[str, Any]:
    """One night of the naive sync; returns the counts and timings as a dict."""
    hibob = requests.Session()
    hibob.auth = (os.environ["HIBOB_SERVICE_USER_ID"], os.environ["HIBOB_SERVICE_USER_TOKEN"])
    scim = requests.Session()
    scim.headers["Authorization"] = "Bearer " + os.environ["HITHRIVE_SCIM_TOKEN"]
    scim.headers["Content-Type"] = "application/scim+json"
    fields = ["root.id", "internal.status"]
    fields += [s for name in mapping for s in _sources(mapping, name)]
    answer = hibob.post(
        f"{hibob_url}/people/search",
        json={"fields": fields, "showInactive": True, "humanReadable": "APPEND"},
        timeout=TIMEOUT,
    )
    answer.raise_for_status()
    employees: list[dict[str, Any]] = answer.json()["employees"]

    ids: dict[str, str] = {}
    start, list_calls = 1, 0
    while True:
        page = scim.get(
            f"{scim_url}/Users", params={"startIndex": start, "count": 1000}, timeout=TIMEOUT
        )
        page.raise_for_status()
        list_calls += 1
        body = page.json()
        found = body.get("Resources") or []
        for user in found:
            ids[str(user["userName"]).lower()] = user["id"]
        start += len(found)
        if not found or start > body.get("totalResults", 0):
            break

    # Every employee with an email, in HiBob's order: PUT when the user exists, else POST
    # (leavers that never had a user are skipped: even naive scripts don't create those).
    todo: list[tuple[dict[str, Any], str]] = []
    for employee in employees:
        email = _first(employee, _sources(mapping, "email"))
        if not email:
            continue
        email = str(email).strip().lower()
        if email in ids or _dig(employee, "internal.status") != "Inactive":
            todo.append((employee, email))

    writes = failures = 0
    began = time.perf_counter()
    for employee, email in todo:
        if max_writes is not None and writes >= max_writes:
            break
        manager = _first(employee, _sources(mapping, "manager_email"))
        manager_id = ids.get(str(manager).strip().lower()) if manager else None
        resource = _resource(employee, mapping, email, manager_id)
        user_id = ids.get(email)
        if user_id is None:
            reply = scim.post(f"{scim_url}/Users", json=resource, timeout=TIMEOUT)
        else:
            reply = scim.put(f"{scim_url}/Users/{user_id}", json=resource, timeout=TIMEOUT)
        writes += 1
        if reply.ok:
            ids[email] = reply.json().get("id", user_id)
        else:
            failures += 1
    write_seconds = time.perf_counter() - began
    hibob.close()
    scim.close()
    return {
        "employees": len(employees),
        "hibob_calls": 1,
        "list_calls": list_calls,
        "writes_planned": len(todo),
        "writes_done": writes,
        "write_seconds": round(write_seconds, 3),
        "failures": failures,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Parse options, run one night, print the JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hibob-url", required=True, help="HiBob base URL, ending in /v1")
    parser.add_argument("--scim-url", required=True, help="SCIM base URL")
    parser.add_argument("--mapping", required=True, type=Path, help="hibob-sync's mapping.yaml")
    parser.add_argument("--max-writes", type=int, default=None, help="stop after N writes")
    args = parser.parse_args(argv)
    mapping = yaml.safe_load(args.mapping.read_text(encoding="utf-8"))["mapping"]
    summary = run(args.hibob_url.rstrip("/"), args.scim_url.rstrip("/"), mapping, args.max_writes)
    print(json.dumps(summary))
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
