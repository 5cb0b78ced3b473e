"""Tell a person when the sync needs one: alert emails and healthcheck pings.

Everything here is best effort. A broken mail server or an unreachable ping URL is logged
as a warning and never changes the run's exit code. Alerts carry counts and an error
message only, never employee data, and no secret ever reaches a message or a log line.
The SMTP transport lives in smtp.py and the pings in ping.py; both are re-exported here.
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from hibob_sync.config.settings import Settings
from hibob_sync.credentials import SMTP_PASSWORD, lookup
from hibob_sync.errors import ExitCode, HibobSyncError
from hibob_sync.notify.ping import PingEvent as PingEvent
from hibob_sync.notify.ping import ping as ping
from hibob_sync.notify.smtp import PASSWORD_HINT as PASSWORD_HINT
from hibob_sync.notify.smtp import send_email as send_email
from hibob_sync.notify.smtp import smtp_session as smtp_session

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alert:
    """What an alert email says: plain text and counts, no employee data."""

    subject: str
    what_happened: str
    what_to_do: str
    exit_code: int
    counts: Mapping[str, int]


# Template lines stay under 76 characters so mail clients show them unbroken.
_SAFEGUARD_TODO = (
    "Nothing is synced until this is resolved.\n"
    "1. Review the plan: `hibob-sync plan` shows what the next run would\n"
    "   change and every safeguard it trips (`run --dry-run` prints the same).\n"
    "2. If the changes are right (a planned reorganisation, say), save the\n"
    "   plan with `hibob-sync plan -o plan.json`, check it, and carry it out\n"
    "   with `hibob-sync apply plan.json`. Otherwise fix the data in HiBob.\n"
    "3. If a mapped HiBob field is gone, fix the mapping with `hibob-sync map`\n"
    "   and check it with `hibob-sync map validate`."
)
_PERMISSION_TODO = (
    "Nothing is synced until this is resolved.\n"
    "- If a token was revoked or has expired, re-connect on this host:\n"
    "  `hibob-sync connect`.\n"
    "- If a permission is missing, grant the HiBob service user the category\n"
    "  named above (HiBob: Settings > Account > Permission groups, the service\n"
    "  user's group, People's data), or give the SCIM token the access it lacks.\n"
    "Then confirm with `hibob-sync check`."
)
_NEW_PROBLEMS_TODO = (
    "The other employees were synced. Those named in the run's output (and in\n"
    "`hibob-sync history --json`) need their HiBob records fixed; the next run\n"
    "retries them. Problems already reported are not emailed again.\n"
    "For who and why: `hibob-sync plan` on this host."
)
_UNAVAILABLE_TODO = (
    "- Check the HiBob and HiThrive status pages.\n"
    "- Check this host's network access to both (DNS, proxy, firewall, TLS CA\n"
    "  bundle), and test both connections now with `hibob-sync check`.\n"
    "Each scheduled run retries; once the services answer, the next run\n"
    "catches up."
)


_INTERNAL_TODO = (
    "- The message above names the defect and the file (on this host, in the\n"
    "  state folder) that holds its traceback: please report it with that file.\n"
    "- Each scheduled run tries again; a run can also be started by hand with\n"
    "  `hibob-sync run`."
)
_LOCKED_TODO = (
    "- Look for a hibob-sync run that is still going or hangs on this host\n"
    "  (`ps -ef | grep hibob-sync`, `systemctl status hibob-sync`) and stop it;\n"
    "  the lock frees itself when that process ends.\n"
    "- sync.max_runtime (default 2h) stops a run that takes too long; a systemd\n"
    "  unit should also set TimeoutStartSec."
)
# An address anywhere in a message, e.g. a safeguard's examples: never sent by email.
_ADDRESS = re.compile(r"[^\s,;:()<>\[\]'\"]+@[^\s,;:()<>\[\]'\"]+")
_EXAMPLES = re.compile(r"\s*\(e\.g\. [^)]*\)")


_QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"")


def without_employee_data(message: str, *, server_text: bool = False) -> str:
    """A run's message as an alert may carry it: addresses and the examples they come in
    (a safeguard's "e.g. a@x, b@y") are left out; `plan` and `history` on the host name them.
    ``server_text``: the message may quote a server's words (69), which may quote values."""
    text = _ADDRESS.sub("<address>", _EXAMPLES.sub("", message))
    return _QUOTED.sub("'…'", text) if server_text else text


def alert_for(
    exit_code: int,
    message: str,
    counts: Mapping[str, int],
    *,
    consecutive_failures: int,
    alert_after: int,
) -> Alert | None:
    """The alert a run's outcome calls for, or None when no person needs to act.

    65 (safeguard) and 77 (credentials/permission) always alert. 69 (unavailable) alerts
    only once ``consecutive_failures`` (counting this run) reaches ``alert_after``, so one
    flaky night stays quiet; so do 70 (a defect) and 75 (another run held the lock), since
    the caller counts 69, 70 and 75 in a row together. 1 alerts, since it now means new
    problems only (problems.py; repeats exit 0). 0 and 78 (config invalid: seen by whoever
    edits the config, and possibly the email settings themselves) do not alert.
    """
    details = without_employee_data(message.strip(), server_text=exit_code == ExitCode.UNAVAILABLE)

    def happened(intro: str) -> str:
        return f"{intro}\n\n{details}" if details else intro

    if exit_code == ExitCode.SAFEGUARD:
        return Alert(
            "hibob-sync: safeguard stopped the sync (action needed)",
            happened("A safeguard stopped the sync before it changed anything in HiThrive."),
            _SAFEGUARD_TODO,
            exit_code,
            counts,
        )
    if exit_code == ExitCode.PARTIAL:
        return Alert(
            "hibob-sync: new employees could not be synced",
            happened(
                "The sync finished, but some employees it had no problem with before\n"
                "could not be synced."
            ),
            _NEW_PROBLEMS_TODO,
            exit_code,
            counts,
        )
    if exit_code == ExitCode.NO_PERMISSION:
        return Alert(
            "hibob-sync: credentials rejected or permission missing (action needed)",
            happened("HiBob or HiThrive rejected the credentials, or a permission is missing."),
            _PERMISSION_TODO,
            exit_code,
            counts,
        )
    if exit_code == ExitCode.UNAVAILABLE and consecutive_failures >= alert_after:
        return Alert(
            f"hibob-sync: HiBob or HiThrive unavailable for {consecutive_failures} runs in a row",
            happened(
                f"The last {consecutive_failures} runs failed: HiBob or HiThrive stayed\n"
                "unavailable after retries."
            ),
            _UNAVAILABLE_TODO,
            exit_code,
            counts,
        )
    if exit_code == ExitCode.INTERNAL and consecutive_failures >= alert_after:
        return Alert(
            "hibob-sync: the sync stopped on an internal error (action needed)",
            happened(
                f"The run stopped on an error hibob-sync did not expect (a defect);\n"
                f"{consecutive_failures} run(s) in a row have synced nothing."
            ),
            _INTERNAL_TODO,
            exit_code,
            counts,
        )
    if exit_code == ExitCode.LOCKED and consecutive_failures >= alert_after:
        return Alert(
            f"hibob-sync: no sync for {consecutive_failures} runs in a row (lock held)",
            happened(
                f"{consecutive_failures} runs in a row synced nothing; the last one found\n"
                "another run holding the lock, which may hang."
            ),
            _LOCKED_TODO,
            exit_code,
            counts,
        )
    return None


def render(alert: Alert, *, host: str | None = None, now: datetime | None = None) -> EmailMessage:
    """Turn an alert into an email; the body is the template plus what the alert carries."""
    host = host or socket.gethostname()
    now = now or datetime.now().astimezone()
    count_lines = [f"  {name}: {int(value)}" for name, value in alert.counts.items()]
    body = "\n".join(
        [
            "hibob-sync needs a person to act.",
            "",
            "What happened",
            alert.what_happened,
            "",
            "What to do",
            alert.what_to_do,
            "",
            "Counts from this run",
            *(count_lines or ["  (none)"]),
            "",
            f"Exit code: {alert.exit_code}",
            f"Host: {host}",
            f"Time: {now.isoformat(timespec='seconds')}",
            "",
            f"Past runs: `hibob-sync history` on {host}.",
            "This email carries no employee names, addresses or field values;",
            f"`hibob-sync plan` and `hibob-sync history` on {host} name them.",
            "",
        ]
    )
    message = EmailMessage()
    message["Subject"] = alert.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid("hibob-sync")
    # RFC 3834: stops out-of-office replies to an unattended sender.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    return message


def notify(settings: Settings, alert: Alert, problems: list[str] | None = None) -> bool:
    """Email an alert if email is configured; True when sent. Never raises for mail trouble.

    A failed alert is logged as an error, so even `-q` under cron prints it (the person it
    was for would otherwise never know), and its reason is added to ``problems``.
    """
    email = settings.email
    if email is None:
        log.debug("no notify.email configured; alert not sent: %s", alert.subject)
        return False
    try:
        password = lookup(SMTP_PASSWORD) if email.username else None
        send_email(email, render(alert), password)
    except HibobSyncError as exc:  # NotifyError, or a keyring failure from lookup
        log.error("alert email not sent: %s", exc)
        if problems is not None:
            problems.append(exc.message)
        return False
    log.info("alert email sent to %s", ", ".join(email.to))
    return True
