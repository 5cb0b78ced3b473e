"""Load and validate config.yaml into a frozen Settings object.

Every error names the file, the key path (e.g. ``sync.max_deactivations``) and what was
expected, and carries exit code 78. Unknown keys are errors, so a typo never silently
falls back to a default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml

from hibob_sync.config.durations import EXAMPLES, parse_duration
from hibob_sync.config.limits import Limit, read_limit
from hibob_sync.config.reader import Reader as _Reader
from hibob_sync.config.scope import Scope, read_protect, read_scope
from hibob_sync.config.urls import is_loopback, masked, url_problem
from hibob_sync.config.yaml_strict import load_strict
from hibob_sync.errors import ConfigError
from hibob_sync.host_files import check_admin_file
from hibob_sync.limiter import DEFAULT_CEILING
from hibob_sync.scim.attributes import validate_attributes

__all__ = ["Adopt", "EmailSettings", "Limit", "Settings", "load_settings", "load_yaml"]

DEFAULT_HIBOB_URL = "https://api.hibob.com/v1"
DEFAULT_STATE_PATH = "~/.local/state/hibob-sync/state.db"
Adopt = Literal["unowned", "all"]  # hithrive.adopt (core/ownership.py)
TEN_PERCENT = Limit(10, True)
QUARTER = Limit(25, True)


@dataclass(frozen=True)
class EmailSettings:
    """Where and how alert emails are sent."""

    to: tuple[str, ...]
    sender: str
    smtp_host: str = "localhost"
    smtp_port: int = 25
    security: str = "none"  # none | starttls | ssl
    username: str | None = None
    timeout: float = 30.0


@dataclass(frozen=True)
class Settings:
    """Everything the core needs from config.yaml, validated."""

    path: Path | None
    hibob_url: str = DEFAULT_HIBOB_URL
    hibob_ca_bundle: Path | None = None
    scim_url: str | None = None
    scim_ca_bundle: Path | None = None
    scim_attributes: Mapping[str, str] = field(default_factory=dict)
    mapping_path: Path = Path("mapping.yaml")
    mapping_configured: bool = False  # mapping_file set: missing is an error, not the default
    leavers: str = "deactivate"
    future_hires: str = "create_inactive"  # spec "Who is active": or "skip" (wait for day one)
    max_deactivations: Limit = TEN_PERCENT
    max_changes: Limit = QUARTER  # one field changing for more managed users than this
    max_reactivations: Limit = TEN_PERCENT  # accounts made active again (default: as above)
    adopt: Adopt = "unowned"  # hithrive.adopt: or "all" (also users another client made)
    state_path: Path = field(default_factory=lambda: Path(DEFAULT_STATE_PATH).expanduser())
    concurrency: int = DEFAULT_CEILING  # the most SCIM requests in flight; the limiter adapts below
    timeout: float = 120.0
    email: EmailSettings | None = None
    healthcheck_url: str | None = None
    alert_after_failed_runs: int = 3
    vanished_grace: timedelta = timedelta(days=3)
    max_runtime: timedelta = timedelta(hours=2)  # past it the run stops as 69 (sync/crash.py)
    metrics_file: Path | None = None
    max_wait: timedelta = timedelta(minutes=15)  # all the waiting a run may do for 429s
    scope: Scope = field(default_factory=Scope)  # who is synced (config/scope.py)
    protect: frozenset[str] = frozenset()  # userNames never changed (hithrive.protect)


def load_yaml(path: Path, what: str) -> Any:
    """Read a YAML file, turning every I/O or syntax problem into a ConfigError.

    A file others can write, or that belongs to another user, is refused first (78).
    """
    check_admin_file(path, what)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} {path} is a folder, not a file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} {path} cannot be read: {exc}") from None
    try:
        return load_strict(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}{where}: malformed YAML: {problem}") from None


def _url(reader: _Reader, name: str, default: str | None) -> str | None:
    value = reader.text(name, default)
    if value is None:
        return None
    key = reader.key(name)
    if "YOUR-" in value.upper():
        raise ConfigError(
            f"{reader.file}: {key}: {value!r} still holds the example's placeholder; "
            "put in the real URL"
        )
    problem = url_problem(value)  # read as urllib3 will connect (config/urls.py)
    if problem in ("is not a URL", "is not an https:// URL"):
        raise ConfigError(f"{reader.file}: {key}: expected an https:// URL, got {masked(value)!r}")
    if problem:
        raise ConfigError(f"{reader.file}: {key}: {masked(value)!r} {problem}")
    return value.rstrip("/")


def _path(reader: _Reader, name: str, base: Path, default: str | None) -> Path | None:
    value = reader.text(name, default)
    if value is None:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _duration(reader: _Reader, name: str, default: str) -> timedelta:
    raw = reader.get(name, lambda v: isinstance(v, str), EXAMPLES, default)
    try:
        return parse_duration(raw)
    except ValueError:
        raise reader.error(reader.key(name), EXAMPLES, raw) from None


def _metrics_file(reader: _Reader, base: Path) -> Path | None:
    path = _path(reader, "metrics_file", base, None)
    if path is not None and path.suffix != ".prom":
        # node_exporter's textfile collector (and Alloy's) reads only *.prom files.
        raise reader.error(reader.key("metrics_file"), "a path ending in .prom", str(path))
    return path


def _email(reader: _Reader) -> EmailSettings | None:
    if reader.data.get("email") is None:
        reader.seen.add("email")
        return None
    email = reader.child("email")
    to = email.get(
        "to",
        lambda v: (
            isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v))
        ),
        "an address or a list of addresses",
        None,
    )
    if not to:
        raise ConfigError(f"{email.file}: notify.email.to: expected at least one address")
    addresses = (to,) if isinstance(to, str) else tuple(to)
    for address in addresses:
        if "@" not in address or not _one_line(address):
            raise email.error("notify.email.to", "email addresses on one line each", address)
    sender = email.text("from")
    if sender is None or "@" not in sender or not _one_line(sender):
        raise email.error("notify.email.from", "the sender's email address, on one line", sender)
    security = email.get(
        "security",
        lambda v: v in ("none", "starttls", "ssl"),
        "one of none, starttls, ssl",
        "none",
    )
    settings = EmailSettings(
        to=addresses,
        sender=sender,
        smtp_host=email.text("smtp_host", "localhost") or "localhost",
        smtp_port=email.integer("smtp_port", 465 if security == "ssl" else 25, minimum=1),
        security=security,
        username=email.text("username"),
        timeout=email.number("timeout", 30.0),
    )
    email.done()
    if settings.security == "none" and settings.username and not is_loopback(settings.smtp_host):
        raise ConfigError(
            f"{email.file}: notify.email.security: `none` with a username would send the "
            f"SMTP password in clear text to {settings.smtp_host}",
            hint="set notify.email.security to starttls (port 587) or ssl (port 465); "
            "`none` with a login is allowed only for a loopback relay",
        )
    return settings


def _one_line(text: str) -> bool:
    """No CR, LF or other control character: a header value cannot be split or smuggled."""
    return text.isprintable()


def load_settings(path: Path | None) -> Settings:
    """Read and validate the config file; None means no file (defaults only)."""
    if path is None:
        return Settings(path=None)
    data = load_yaml(path, "config file")
    base = path.resolve().parent
    top = _Reader(path, data)

    hibob = top.child("hibob")
    hibob_url = _url(hibob, "base_url", DEFAULT_HIBOB_URL) or DEFAULT_HIBOB_URL
    hibob_ca = _path(hibob, "ca_bundle", base, None)
    hibob.done()

    hithrive = top.child("hithrive")
    scim_url = _url(hithrive, "scim_url", None)
    scim_ca = _path(hithrive, "ca_bundle", base, None)
    adopt = hithrive.get("adopt", lambda v: v in ("unowned", "all"), "unowned or all", "unowned")
    attributes = hithrive.get(
        "attributes",
        lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
        "a mapping of HiThrive field to SCIM attribute path",
        {},
    )
    protect = read_protect(hithrive)
    hithrive.done()
    try:
        validate_attributes(attributes)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.message}", hint=exc.hint) from None

    mapping_path = _path(top, "mapping_file", base, "mapping.yaml") or base / "mapping.yaml"

    sync = top.child("sync")
    leavers = sync.get(
        "leavers", lambda v: v in ("deactivate", "ignore"), "deactivate or ignore", "deactivate"
    )
    future_hires = sync.get(
        "future_hires",
        lambda v: v in ("create_inactive", "skip"),
        "create_inactive or skip",
        "create_inactive",
    )
    limit = read_limit(sync, "max_deactivations")
    max_changes = read_limit(sync, "max_changes", "25%")
    max_reactivations = read_limit(sync, "max_reactivations", str(limit))
    state_path = _path(sync, "state_path", base, DEFAULT_STATE_PATH)
    concurrency = sync.integer("concurrency", DEFAULT_CEILING, minimum=1)
    timeout = sync.number("timeout", 120.0)
    vanished_grace = _duration(sync, "vanished_grace", "3d")
    max_wait = _duration(sync, "max_wait", "15m")
    max_runtime = _duration(sync, "max_runtime", "2h")
    if max_runtime <= timedelta(0):
        raise sync.error(
            sync.key("max_runtime"), "a duration above zero, e.g. 2h", sync.data["max_runtime"]
        )
    sync.done()

    notify = top.child("notify")
    email = _email(notify)
    healthcheck = _url(notify, "healthcheck_url", None)
    after = notify.integer("alert_after_failed_runs", 3, minimum=1)
    metrics_file = _metrics_file(notify, base)
    notify.done()
    scope = read_scope(top.child("scope"))
    top.done()

    for ca in (hibob_ca, scim_ca):
        if ca is not None and not ca.is_file():
            raise ConfigError(f"{path}: ca_bundle {ca} does not exist")

    return Settings(
        path=path,
        hibob_url=hibob_url,
        hibob_ca_bundle=hibob_ca,
        scim_url=scim_url,
        scim_ca_bundle=scim_ca,
        scim_attributes=dict(attributes),
        mapping_path=mapping_path,
        mapping_configured=top.data.get("mapping_file") is not None,
        leavers=leavers,
        future_hires=future_hires,
        max_deactivations=limit,
        max_changes=max_changes,
        max_reactivations=max_reactivations,
        adopt=adopt,
        state_path=state_path or Path(DEFAULT_STATE_PATH).expanduser(),
        concurrency=concurrency,
        timeout=timeout,
        email=email,
        healthcheck_url=healthcheck,
        alert_after_failed_runs=after,
        vanished_grace=vanished_grace,
        max_runtime=max_runtime,
        metrics_file=metrics_file,
        max_wait=max_wait,
        scope=scope,
        protect=protect,
    )
