"""`check`'s HiBob items: login, field catalogue, people scope, a sample of the answer."""

from __future__ import annotations

import re

from hibob_sync.config.mapping import FieldMapping
from hibob_sync.config.mapping_check import Problem, mapping_problems
from hibob_sync.config.settings import Settings
from hibob_sync.core.scope import FIELDS_HINT, ROOT_ID, field_problems
from hibob_sync.core.status import is_active, is_future_hire
from hibob_sync.credentials import HibobCredentials
from hibob_sync.errors import ExitCode, HibobSyncError, RemoteError
from hibob_sync.hibob.client import (
    CatalogueField,
    HibobClient,
    SearchResult,
    missing_fields,
)
from hibob_sync.http import HttpSettings
from hibob_sync.sync.checklist import Checklist
from hibob_sync.sync.clients import hibob_client
from hibob_sync.sync.validation import sample_findings


def catalogue_of(client: HibobClient) -> list[CatalogueField]:
    """The field catalogue; where it is not found, a search tells a wrong base URL (78) apart."""
    try:
        return client.fields()
    except RemoteError as exc:
        if exc.status == 404:
            client.search(["root.email"], show_inactive=False)  # 404 here: hibob.base_url
        raise


def check_hibob(
    settings: Settings,
    mapping: FieldMapping,
    login: HibobCredentials,
    http: HttpSettings | None,
    out: Checklist,
) -> set[str] | None:
    """HiBob: credentials, mapped and scope fields readable, leavers visible; the IDs returned."""
    scoped = [f for f in settings.scope.fields if f != ROOT_ID]
    sources = tuple(dict.fromkeys((*mapping.all_sources(), *scoped)))
    try:
        with hibob_client(settings, login, http) as client:
            catalogue = catalogue_of(client)
            found = client.search(sources, catalogue=catalogue)
    except HibobSyncError as exc:
        out.error(exc, "HiBob")
        return None
    out.add(True, f"HiBob service user accepted ({len(found.employees)} employees visible)")
    out.catalogue = catalogue
    wrong = mapping_problems(mapping, catalogue)
    for problem in wrong:
        out.add(
            False,
            f"{problem.key}: {problem.text}",
            ExitCode.CONFIG,
            "pick an existing field of the right kind with `hibob-sync map`",
        )
    for source, text in field_problems(settings.scope, catalogue):
        out.add(False, text, ExitCode.CONFIG, FIELDS_HINT)
        wrong.append(Problem("scope", source, text))
    if not found.employees:  # no field came back because nobody did: not eight permissions
        out.add(
            False,
            "HiBob's answer holds no employees, so no field could be checked: the service "
            "user's permission group has nobody in its people scope, or the company has no "
            "employees yet",
            ExitCode.NO_PERMISSION,
            "widen the people scope of the service user's permission group (Settings > "
            "Permission groups > the service user's group > People); a run stops on an empty "
            "answer and never treats it as 'everyone left'",
        )
        return None
    unknown = {problem.source for problem in wrong}
    missing = {m.source: m for m in missing_fields(found, sources, catalogue)}
    birth = set(mapping.sources.get("birthday", ()))
    for source in sources:
        if source in unknown:
            continue
        feeds = [mapping.fields_of(source)] + (["scope"] if source in scoped else [])
        target = ", ".join(name for name in feeds if name)
        if source in missing:
            category = missing[source].category_name
            grant = f"the HiBob category '{category}'" if category else "its HiBob category"
            out.add(
                False,
                f"cannot read {source} ({target}): grant View on {grant}",
                ExitCode.NO_PERMISSION,
                _BIRTH_RULE if source in birth else _CATEGORIES,
            )
        else:
            out.add(True, f"can read {source} ({target})")
            if source in birth:
                _short_birth_dates(found, source, out)
    _sample(mapping, found, unknown | set(missing), out)
    _lifecycle(settings, found, catalogue, out)
    return {employee.id for employee in found.employees}


def _sample(mapping: FieldMapping, found: SearchResult, skip: set[str], out: Checklist) -> None:
    """The values that came back, judged per field: an email field of job titles fails here."""
    problems, notes = sample_findings(mapping, found.employees, skip)
    for line in notes:
        out.add(True, line)
    for problem in problems:
        out.add(
            False,
            problem.text,
            ExitCode.CONFIG,
            f"map {problem.field} to another HiBob field with `hibob-sync map`",
        )


_CATEGORIES = "Settings > Permission groups > the service user's group > Categories"
# hibob-api.md: under HiBob's older permission rule View alone on the date of birth's category
# gives nothing or the short date; a full date of birth needs View and Edit.
_BIRTH_RULE = (
    "a full date of birth needs View and Edit on that category under HiBob's older permission "
    "rule (View alone gives no date or one without the year); " + _CATEGORIES
)
_SHORT_DATE = re.compile(r"^(?:--)?\d{2}-\d{2}$")


def _short_birth_dates(found: SearchResult, source: str, out: Checklist) -> None:
    """Dates of birth that all come back without the year: the older permission rule."""
    values = [e.values.get(source) for e in found.employees]
    dates = [v for v in values if isinstance(v, str) and v.strip()]
    if dates and all(_SHORT_DATE.match(v.strip()) for v in dates):
        out.add(
            None,
            f"{source} comes back without the year for every employee: a full date of birth "
            "needs View and Edit on its HiBob category under HiBob's older permission rule",
        )


def _lifecycle(
    settings: Settings, found: SearchResult, catalogue: list[CatalogueField], out: Checklist
) -> None:
    """Who is active comes from the Lifecycle fields; leavers need inactive people in scope.

    Two different problems, two different fixes: status fields unreadable (grant the
    category) versus inactive employees outside the people scope (change the scope).
    """
    employees = found.employees
    if employees and all(e.lifecycle_status is None and e.status is None for e in employees):
        category = next(
            (f.category_name for f in catalogue if f.id == "internal.status" and f.category_name),
            "Lifecycle",
        )
        out.add(
            False,
            "cannot read the access and lifecycle status (internal.status, "
            f"internal.lifecycleStatus): grant View on the HiBob category '{category}'",
            ExitCode.NO_PERMISSION,
            "without them leavers cannot be told from active employees; " + _CATEGORIES,
        )
        return
    if settings.leavers != "deactivate":
        return
    inactive = sum(1 for e in employees if not is_active(e) and not is_future_hire(e))
    if inactive:
        out.add(True, f"inactive employees are visible ({inactive}), so leavers are deactivated")
    else:
        out.add(
            False,
            "no inactive employees are visible, so leavers could never be deactivated",
            ExitCode.NO_PERMISSION,
            "remove the 'Lifecycle status is Employed' condition from the service user's "
            "people scope (it also hides Hired and on-leave people); if nobody has ever left, "
            "set sync.leavers: ignore",
        )
