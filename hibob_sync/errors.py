"""One exception hierarchy; each class carries the exit code the spec gives it.

The core raises these and never exits; the CLI turns them into a one-line
``Error: ...`` message and the exit status in exactly one place (``cli.main``).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Protocol


class ExitCode(IntEnum):
    """Exit statuses of ``run`` and ``check`` (spec.md, "Exit codes")."""

    OK = 0
    PARTIAL = 1
    USAGE = 2
    SAFEGUARD = 65
    UNAVAILABLE = 69
    LOCKED = 75
    NO_PERMISSION = 77
    CONFIG = 78
    INTERNAL = 70
    INTERRUPTED = 130

    @classmethod
    def outcome(cls, code: int) -> str:
        """The word for a run's exit code in summaries and the history ("error" if unknown)."""
        try:
            return _OUTCOMES.get(cls(code), "error")
        except ValueError:
            return "error"


_OUTCOMES: dict[ExitCode, str] = {
    ExitCode.OK: "in sync",
    ExitCode.PARTIAL: "some employees failed",
    ExitCode.SAFEGUARD: "stopped by a safeguard",
    ExitCode.UNAVAILABLE: "service unavailable",
    ExitCode.LOCKED: "locked",
    ExitCode.NO_PERMISSION: "credentials or permission",
    ExitCode.CONFIG: "configuration",
    ExitCode.INTERNAL: "internal error",
    ExitCode.INTERRUPTED: "interrupted",
}


class RunReport(Protocol):
    """What a stopped run had done (sync's RunSummary), as `run --json` prints it."""

    def as_dict(self) -> dict[str, object]: ...


class HibobSyncError(Exception):
    """Base of every error the tool expects; its message is shown to the user as is."""

    exit_code: ExitCode = ExitCode.UNAVAILABLE
    # Set by run_sync on the error that stopped a run: what the run had done by then, so
    # `run --json` reports the real start, counts and failures, not a blank.
    summary: RunReport | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  Hint: {self.hint}"


class ConfigError(HibobSyncError):
    """The config or mapping file is missing, malformed or invalid."""

    exit_code = ExitCode.CONFIG


class CredentialsError(HibobSyncError):
    """Credentials are missing or were rejected: re-connect."""

    exit_code = ExitCode.NO_PERMISSION


class PermissionMissingError(HibobSyncError):
    """The service user or token lacks a permission the sync needs."""

    exit_code = ExitCode.NO_PERMISSION


class KeyringUnavailableError(CredentialsError):
    """No usable keyring backend (typical for cron on a headless server)."""


class KeyringStoreError(ConfigError):
    """The keyring cannot store credentials: nothing was rejected, the set-up must change."""


class ServiceUnavailableError(HibobSyncError):
    """HiBob or the SCIM server stayed unavailable after retries."""

    exit_code = ExitCode.UNAVAILABLE


class RemoteError(HibobSyncError):
    """A remote API answered in a way that is not transient and not an auth problem."""

    exit_code = ExitCode.UNAVAILABLE

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class RateLimitedError(RemoteError):
    """A request still refused with 429 when the run's wait budget (sync.max_wait) could not
    cover another wait: that employee is not synced tonight (a read the run needs stops it)."""


class ScimError(RemoteError):
    """The SCIM server refused a request (RFC 7644 §3.12 error: status, scimType, detail)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        scim_type: str | None = None,
        detail: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, status=status, hint=hint)
        self.scim_type = scim_type
        self.detail = detail


class NotifyError(HibobSyncError):
    """An alert email could not be sent; the message says why, never with the password.

    Alerts are best effort: the run logs this and keeps its own exit code.
    """


class InterruptedRun(HibobSyncError):
    """Ctrl-C or SIGTERM stopped a run: recorded (it may have written), then it goes on."""

    exit_code = ExitCode.INTERRUPTED


class SafeguardError(HibobSyncError):
    """A safeguard stopped the run before any write."""

    exit_code = ExitCode.SAFEGUARD


class PlanRefused(SafeguardError):
    """A plan file refused (`apply`, or `plan -o` of a plan no review can approve): nothing
    was written, and no run happened (no record, metrics or alert; `status` as it was)."""


class LockedError(HibobSyncError):
    """Another run holds the lock."""

    exit_code = ExitCode.LOCKED


class InternalError(HibobSyncError):
    """An exception nothing expected (a defect): named in one line, its traceback in a file.

    The run is recorded, its metrics written and the alert sent as for 69; the message names
    the exception's type and where it was raised, never its text (which may hold data).
    """

    exit_code = ExitCode.INTERNAL


class RunTooLongError(ServiceUnavailableError):
    """The run passed ``sync.max_runtime`` and was stopped (69, recorded and alerted)."""
