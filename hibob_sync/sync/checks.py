"""`check` and `connect`: verify credentials and permissions against both APIs, read only.

`check` never stops at the first problem: it collects one line per item so an admin sees
everything to fix in one go, and a verdict whose exit code is the worst item's (77 for
credentials or permissions, 78 for config or mapping). The checklist itself is in
checklist.py, the HiBob items in checks_hibob.py and the SCIM items in checks_scim.py.
"""

from __future__ import annotations

from hibob_sync import credentials
from hibob_sync.config.mapping import FieldMapping
from hibob_sync.config.settings import Settings
from hibob_sync.credentials import HibobCredentials
from hibob_sync.errors import ExitCode, HibobSyncError
from hibob_sync.http import HttpSettings
from hibob_sync.notify.alert_paths import probe_email, probe_healthcheck, probe_metrics_folder
from hibob_sync.notify.alert_paths import send_test_email as send_test
from hibob_sync.sync.checklist import Checklist as Checklist
from hibob_sync.sync.checklist import Item as Item
from hibob_sync.sync.checks_hibob import catalogue_of as catalogue_of
from hibob_sync.sync.checks_hibob import check_hibob as check_hibob
from hibob_sync.sync.checks_scim import check_scim as check_scim
from hibob_sync.sync.checks_scim import check_scim_schema as check_scim_schema
from hibob_sync.sync.clients import hibob_client, scim_client
from hibob_sync.sync.lock import lock_path
from hibob_sync.sync.mapping_editor import mappable
from hibob_sync.sync.scim_users import other_clients, probe_users
from hibob_sync.sync.state_folder import probe
from hibob_sync.sync.waits import budgeted, connect_http


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
