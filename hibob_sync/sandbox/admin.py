"""Changing the sandbox's company while it runs, for a rehearsal: hire, leave, rehire, change
a field, leave someone out of the answer, or empty it.

HiBob's admins do these things in HiBob's web app; the sandbox takes them on an endpoint of
its own, ``/_sandbox/roster``, that HiBob does not have. It answers only when the sandbox
was given an admin token (``HibobSandbox(admin_token=...)``), with a bearer token separate
from the service users' so that a client under test can never change its own data.

``GET`` lists the employees; ``POST`` takes one change as JSON:
``{"action": "hire", "email": ..., "first_name": ..., "last_name": ..., "start_in_days": 0}``,
``{"action": "leave"|"rehire"|"remove"|"restore", "who": ID or email}``,
``{"action": "set", "who": ..., "field": "work.title", "value": ...}``, ``{"action": "empty"}``
and ``{"action": "restore"}`` (everyone). The answer is ``{"id": ..., "message": ...}`` or
``{"key": ..., "error": ...}`` with 400 or 404, as the rest of the sandbox answers errors.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from hibob_sync.sandbox.catalogue import FIELDS_BY_ID
from hibob_sync.sandbox.roster import Company

ADMIN_PATH = "/_sandbox/roster"
Answer = tuple[int, bytes, dict[str, str]]


class RosterError(Exception):
    """A change that cannot be made: its HTTP status and what to say."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


def authorised(header: str | None, token: str) -> bool:
    """Whether the request carries the admin's bearer token (compared in constant time)."""
    scheme, _, given = (header or "").partition(" ")
    given_bytes = given.strip().encode("utf-8", "surrogateescape")
    return scheme.lower() == "bearer" and hmac.compare_digest(given_bytes, token.encode("utf-8"))


def handle(company: Company, method: str, raw: bytes) -> Answer:
    """One admin request: the listing (GET) or one change (POST)."""
    try:
        if method == "GET":
            return _json(200, {"employees": listing(company)})
        if method != "POST":
            raise RosterError(405, f"{method} is not allowed on {ADMIN_PATH}")
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise RosterError(400, "the body must be a JSON object") from None
        if not isinstance(body, dict):
            raise RosterError(400, "the body must be a JSON object")
        employee_id, message = change(company, body)
        return _json(200, {"id": employee_id, "message": message})
    except RosterError as exc:
        return _json(exc.status, {"key": "roster", "error": exc.text})


def listing(company: Company) -> list[dict[str, Any]]:
    """Every employee with what a rehearsal needs to pick someone, hidden ones marked."""
    hidden = company.hidden
    rows = []
    for employee_id in company.ids():
        record = company.get(employee_id)
        rows.append(
            {
                "id": employee_id,
                "email": record.get("root.email"),
                "name": record.get("root.displayName"),
                "lifecycle": record.get("internal.lifecycleStatus"),
                "status": record.get("internal.status"),
                "in_answer": employee_id not in hidden,
            }
        )
    return rows


def find(company: Company, who: object) -> str:
    """The ID of the one employee WHO names (an ID, or an email in any case)."""
    if not isinstance(who, str) or not who.strip():
        raise RosterError(400, "name the employee: `who` is a HiBob ID or an email")
    wanted = who.strip()
    if wanted in company:
        return wanted
    key = wanted.casefold()
    matches = [
        i
        for i in company.ids()
        if isinstance(email := company.get(i).get("root.email"), str)
        and email.strip().casefold() == key
    ]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise RosterError(404, f"no employee {wanted!r} in the sandbox")
    raise RosterError(400, f"{len(matches)} employees share {wanted!r}; name one by ID")


def change(company: Company, body: dict[str, Any]) -> tuple[str | None, str]:
    """Carry out one change; the employee concerned and what happened."""
    action = body.get("action")
    if action == "hire":
        return _hire(company, body)
    if action == "empty":
        company.hide()
        return None, f"HiBob now answers with no employees ({len(company)} kept aside)"
    if action == "restore" and body.get("who") is None:
        count = len(company.hidden)
        company.show()
        return None, f"HiBob answers with everyone again ({count} back)"
    if action not in ("leave", "rehire", "set", "remove", "restore"):
        raise RosterError(
            400, f"unknown action {action!r}: hire, leave, rehire, set, remove, restore, empty"
        )
    employee_id = find(company, body.get("who"))
    email = company.get(employee_id).get("root.email")
    name = f"{email or '(no email)'} ({employee_id})"
    if action == "leave":
        company.terminate(employee_id)
        return employee_id, f"{name} left: Terminated, Inactive"
    if action == "rehire":
        company.rehire(employee_id)
        return employee_id, f"{name} rehired: Employed, Active"
    if action == "remove":
        company.hide([employee_id])
        return employee_id, f"{name} is left out of HiBob's answers"
    if action == "restore":
        company.show([employee_id])
        return employee_id, f"{name} is in HiBob's answers again"
    return employee_id, _set(company, employee_id, name, body)


def _set(company: Company, employee_id: str, name: str, body: dict[str, Any]) -> str:
    field_id, value = body.get("field"), body.get("value")
    if not isinstance(field_id, str) or field_id not in FIELDS_BY_ID or field_id == "root.id":
        raise RosterError(400, f"the sandbox has no field {field_id!r} to change")
    company.update(employee_id, {field_id: None if value in ("", None) else value})
    return f"{name}: {field_id} set to {value!r}"


def _hire(company: Company, body: dict[str, Any]) -> tuple[str, str]:
    email = body.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise RosterError(400, "a hire needs an email address")
    first = str(body.get("first_name") or email.split("@")[0].split(".")[0].title())
    last = str(body.get("last_name") or "Newhire")
    values = {
        "root.email": email.strip(),
        "root.firstName": first,
        "root.surname": last,
        "root.displayName": f"{first} {last}",
    }
    days = body.get("start_in_days", 0)
    if not isinstance(days, int) or days < 0:
        raise RosterError(400, "start_in_days is a whole number of days, 0 or more")
    if days:
        employee_id = company.hire(values, start_in_days=days)
        return employee_id, f"{email} hired ({employee_id}): starts in {days} days, Inactive"
    employee_id = company.add(values)
    return employee_id, f"{email} hired ({employee_id}): Employed, Active from today"


def _json(status: int, document: dict[str, Any]) -> Answer:
    return status, json.dumps(document).encode("utf-8"), {}
