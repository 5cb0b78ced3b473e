"""`check` and `connect`: verify credentials and permissions against both APIs, read only.

`check` never stops at the first problem: it collects one line per item so an admin sees
everything to fix in one go, and a verdict whose exit code is the worst item's (77 for
credentials or permissions, 78 for config or mapping).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hibob_sync import credentials
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
from hibob_sync.notify.alert_paths import probe_email, probe_healthcheck, probe_metrics_folder
from hibob_sync.notify.alert_paths import send_test_email as send_test
from hibob_sync.scim.client import ScimClient
from hibob_sync.scim.dialect import describe
from hibob_sync.scim.values import filler_hint, type_problems, unfilled_required
from hibob_sync.state import StateStore
from hibob_sync.sync.clients import hibob_client, scim_client
from hibob_sync.sync.lock import lock_path
from hibob_sync.sync.mapping_editor import mappable
from hibob_sync.sync.scim_users import other_clients, probe_users
from hibob_sync.sync.state_folder import probe
from hibob_sync.sync.validation import sample_findings, server_findings
from hibob_sync.sync.waits import budgeted, connect_http


@dataclass(frozen=True)
class Item:
    """One line of the checklist."""

    ok: bool | None  # None: a note or warning that does not fail the check
    text: str
    exit_code: int = ExitCode.OK
    hint: str | None = None

    @property
    def line(self) -> str:
        """The item as `check` prints it: `[ok  ]`, `[FAIL]` or `[note]`, then the text."""
        mark = {True: "ok  ", False: "FAIL", None: "note"}[self.ok]
        return f"[{mark}] {self.text}"


@dataclass
class Checklist:
    """Every item, and the verdict."""

    items: list[Item] = field(default_factory=list)
    catalogue: list[CatalogueField] | None = None  # HiBob's, once read: extras are judged by it

    def add(
        self, ok: bool | None, text: str, code: int = ExitCode.OK, hint: str | None = None
    ) -> None:
        self.items.append(Item(ok, text, code if ok is False else ExitCode.OK, hint))

    def error(self, exc: HibobSyncError, prefix: str) -> None:
        self.add(False, f"{prefix}: {exc.message}", exc.exit_code, exc.hint)

    @property
    def exit_code(self) -> int:
        return max((item.exit_code for item in self.items), default=ExitCode.OK)


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


def check_scim(
    settings: Settings,
    mapping: FieldMapping,
    token: str,
    http: HttpSettings | None,
    out: Checklist,
) -> None:
    """SCIM: token valid, target attributes announced, patch support."""
    try:
        scim = scim_client(settings, token, http, tuple(mapping.extra))
    except HibobSyncError as exc:
        out.error(exc, "HiThrive")
        return
    with scim as client:
        try:
            features = client.discover()
            probe_users(client)
        except HibobSyncError as exc:
            out.error(exc, "HiThrive")
            return
        out.add(True, f"SCIM token accepted by {client.service}")
        if features.schema_attributes is None:
            out.add(None, "the SCIM server publishes no /Schemas; target attributes not verified")
        # The one validation, as plan, run and apply run it (validation.py).
        wrong = server_findings(mapping, features, client.placement, out.catalogue)
        for finding in wrong:
            out.add(False, finding.line, ExitCode.CONFIG, finding.hint)
        if features.schema_attributes is not None and not wrong:
            out.add(True, "every target attribute exists in the server's /Schemas and can hold it")
        if features.patch:
            out.add(True, "the SCIM server supports PATCH (only changed attributes are sent)")
        else:
            out.add(None, "the SCIM server does not support PATCH; whole users are PUT instead")
        check_scim_schema(settings, mapping, client, out)


def check_scim_schema(
    settings: Settings, mapping: FieldMapping, client: ScimClient, out: Checklist
) -> None:
    """What /Schemas says of the targets (types, required attributes), and the dialect the
    server was found to speak in earlier runs (scim_dialect.py)."""
    features = client.discover()
    known = settings.state_path.exists()  # check never creates the state store
    for problem in type_problems(features, client.placement, mapping.fields):
        if not problem.fatal:  # the fatal ones are server_findings'
            out.add(
                None, f"the SCIM attribute {problem.path} (for {problem.field}) {problem.reason}"
            )
    for path in unfilled_required(features, client.placement, mapping.targets):
        out.add(
            False,
            f"the SCIM server requires {path} to create a user, and the mapping does not fill it",
            ExitCode.CONFIG,
            filler_hint(path, client.placement),
        )
    forms = (
        StateStore(settings.state_path, read_only=True).dialect(client.base_url) if known else {}
    )
    if forms:
        out.add(None, "SCIM dialect learned in earlier runs: " + "; ".join(describe(forms)))


def check_alerts(settings: Settings, out: Checklist, *, send_test_email: bool = False) -> None:
    """Each configured alert path tried without sending (alert_paths), or one test email;
    and the metrics file's folder, whose write a run would otherwise only log."""
    if settings.email is None:
        out.add(None, "no alert email (notify.email): nobody is emailed when a run needs a person")
    else:
        try:
            if send_test_email:
                out.add(True, f"alert email: test message sent to {send_test(settings.email)}")
            else:
                out.add(True, f"alert email works: {probe_email(settings.email)} (nothing sent)")
        except HibobSyncError as exc:
            out.add(False, f"alert email: {exc.message}", ExitCode.CONFIG, exc.hint)
    if settings.healthcheck_url:
        try:
            reached = probe_healthcheck(settings.healthcheck_url)
            out.add(True, f"healthcheck host {reached} (not pinged)")
        except HibobSyncError as exc:
            out.add(False, f"healthcheck: {exc.message}", ExitCode.CONFIG, exc.hint)
    if settings.metrics_file is not None:
        try:
            out.add(True, f"notify.metrics_file: {probe_metrics_folder(settings.metrics_file)}")
        except HibobSyncError as exc:
            out.add(False, exc.message, ExitCode.CONFIG, exc.hint)


def run_checks(
    settings: Settings,
    mapping: FieldMapping,
    *,
    http: HttpSettings | None = None,
    send_test_email: bool = False,
) -> Checklist:
    """The whole checklist (see module docstring)."""
    _, http = budgeted(settings.max_wait.total_seconds(), http)  # sync.max_wait, as `run`
    out = Checklist()
    out.add(True, f"mapping valid ({len(mapping.fields)} fields: {', '.join(mapping.fields)})")
    if mapping.extra:
        out.add(None, f"extra attributes: {', '.join(mapping.extra)}")
    try:  # sync.state_path as a run opens it: `run` cannot fail on what check called good
        out.add(True, f"sync.state_path: {probe(settings.state_path, lock_path(settings))}")
    except HibobSyncError as exc:
        out.add(False, exc.message, ExitCode.CONFIG, exc.hint)
    answer_ids: set[str] | None = None
    try:
        login = credentials.hibob_credentials()
    except HibobSyncError as exc:
        out.error(exc, "HiBob")
    else:
        answer_ids = check_hibob(settings, mapping, login, http, out)
    try:
        token = credentials.scim_token()
    except HibobSyncError as exc:
        out.error(exc, "HiThrive")
    else:
        check_scim(settings, mapping, token, http, out)
        if answer_ids is not None:  # users another provisioning client made (ownership.py)
            out.add(*other_clients(settings, token, http, answer_ids))
    check_alerts(settings, out, send_test_email=send_test_email)
    return out


def verify_hibob(
    settings: Settings, login: HibobCredentials, *, http: HttpSettings | None = None
) -> str:
    """Prove the HiBob service user works (catalogue and a search); what was verified.

    `connect` calls this right after the pair is typed, so a typo is caught before the
    admin goes looking for the SCIM token.
    """
    with hibob_client(settings, login, http) as hibob:
        catalogue = catalogue_of(hibob)
        hibob.search(["root.email"], catalogue=catalogue, show_inactive=False)
    count = len(mappable(catalogue))  # as `map` counts them: bookkeeping fields left out
    return f"HiBob service user {login.user_id} ({count} fields in the catalogue to map)"


def verify_scim(settings: Settings, token: str, *, http: HttpSettings | None = None) -> str:
    """Prove the SCIM token may read users; what was verified."""
    with scim_client(settings, token, http) as scim:
        scim.discover()
        probe_users(scim)
        return f"HiThrive SCIM token ({scim.service})"


def connect(
    settings: Settings,
    values: dict[credentials.Secret, str],
    *,
    http: HttpSettings | None = None,
) -> list[str]:
    """Verify each credential against its API, then store them all; returns what was verified.

    Nothing is stored unless every credential works, so a typo never replaces a good token.
    """
    login = HibobCredentials(values[credentials.HIBOB_USER_ID], values[credentials.HIBOB_TOKEN])
    http = connect_http(http)
    verified = [verify_hibob(settings, login, http=http)]
    verified.append(verify_scim(settings, values[credentials.SCIM_TOKEN], http=http))
    credentials.store(values)
    return verified
