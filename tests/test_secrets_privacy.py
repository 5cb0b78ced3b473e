"""Secrets and privacy through the CLI.

Secrets: canary tokens, given through env and through the (file-backed, temp) keyring, never
reach stdout, stderr, a log record, the state store or an exception's text, whatever the
outcome; no command takes a secret as an argument. Privacy: HiBob is asked for the mapped
fields only, and no profile value reaches a log, the state store or the run history.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import traceback
import uuid
from collections.abc import Iterator

import click
import keyring
import pytest

from hibob_sync import credentials
from hibob_sync.cli.commands import cli
from hibob_sync.config.mapping import load_mapping
from hibob_sync.config.settings import load_settings
from hibob_sync.errors import HibobSyncError
from hibob_sync.hibob.client import REQUIRED_FIELDS
from hibob_sync.sandbox.catalogue import GROUPS_FIELD, TEAMS_FIELD
from hibob_sync.sync.checks import connect as verify_and_store
from hibob_sync.sync.checks import run_checks
from hibob_sync.sync.run import run_sync
from tests.cli_helpers import CliResult
from tests.reliability_helpers import all_logs, leaks, log_text, scim_writes, state_bytes
from tests.scim_fixtures import SCIM_TOKEN
from tests.sync_fixtures import SyncEnv

SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SECRET_WORDS = ("token", "secret", "password", "passwd", "credential", "apikey", "api_key")


@pytest.fixture
def canary(sync_env: SyncEnv, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A HiBob service user whose token is a unique canary, its credentials in env.

    The SCIM token (the scim2-server's) is a canary as well: SCIM_TOKEN.
    """
    token = f"canary-{uuid.uuid4().hex}"
    sync_env.sandbox.add_service_user("canary-user", token)
    monkeypatch.setenv("HIBOB_SERVICE_USER_ID", "canary-user")
    monkeypatch.setenv("HIBOB_SERVICE_USER_TOKEN", token)
    yield token


class Scanner:
    """Collects every text a run produced and reports any secret found in it."""

    def __init__(self, env: SyncEnv, caplog: pytest.LogCaptureFixture, *secrets: str) -> None:
        self.env = env
        self.caplog = caplog
        self.secrets = secrets
        self.texts: dict[str, str | bytes] = {}

    def cli(self, *args: str, input: str | None = None) -> CliResult:
        result = self.env.cli(*args, input=input)
        name = " ".join(args)
        self.texts[f"stdout of {name}"] = result.stdout
        self.texts[f"stderr of {name}"] = result.stderr
        assert "Traceback (most recent call last)" not in result.stdout
        return result

    def error(self, name: str, exc: BaseException) -> None:
        """An exception's message, repr, attributes and whole chain of causes."""
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self.texts[f"exception of {name}"] = f"{text}\n{exc!r}\n{vars(exc)!r}"

    def assert_clean(self) -> None:
        self.texts["log records"] = log_text(self.caplog)
        self.texts["state store"] = state_bytes(self.env.state)
        for path in self.env.folder.rglob("*"):  # config, mapping, lock file...
            if path.is_file():
                self.texts[f"file {path.name}"] = path.read_bytes()
        assert self.caplog.records, "no log records were captured"
        assert leaks(self.secrets, **self.texts) == []


def core_error(env: SyncEnv, what: str) -> HibobSyncError:
    """Run the core directly (not through the CLI) and return the error it raised."""
    settings = load_settings(env.config)
    mapping = load_mapping(settings.mapping_path)
    with pytest.raises(HibobSyncError) as raised:
        if what == "run":
            run_sync(settings, mapping, http=env.http)
        else:
            values = {item: credentials.require(item) for item in credentials.ALL}
            verify_and_store(settings, values, http=env.http)
    return raised.value


def test_canary_tokens_never_leak(
    sync_env: SyncEnv,
    canary: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong_hibob, wrong_scim = f"wrong-{uuid.uuid4().hex}", f"wrong-{uuid.uuid4().hex}"
    scan = Scanner(sync_env, caplog, canary, SCIM_TOKEN, wrong_hibob, wrong_scim)
    with all_logs(caplog):
        # Set-up from env, then a run and a check from the keyring alone.
        assert scan.cli("-vv", "connect", "--from-env").exit_code == 0
        assert keyring.get_password(credentials.SERVICE, credentials.HIBOB_TOKEN.key) == canary
        for item in credentials.ALL:
            monkeypatch.delenv(item.env)
        assert scan.cli("-vv", "run").exit_code == 1
        assert len(sync_env.users()) > 10  # the canaries really were used
        assert scan.cli("-vv", "check").exit_code == 0
        assert scan.cli("history").exit_code == 0

        # From env again: a run, and every kind of rejection.
        monkeypatch.setenv("HIBOB_SERVICE_USER_ID", "canary-user")
        monkeypatch.setenv("HIBOB_SERVICE_USER_TOKEN", canary)
        monkeypatch.setenv("HITHRIVE_SCIM_TOKEN", SCIM_TOKEN)
        assert scan.cli("-vv", "run", "--json").exit_code == 0  # old problems only
        monkeypatch.setenv("HIBOB_SERVICE_USER_TOKEN", wrong_hibob)
        assert scan.cli("-vv", "run").exit_code == 77
        assert scan.cli("-vv", "check").exit_code == 77
        assert scan.cli("-vv", "connect", "--from-env").exit_code == 77
        scan.error("run with a bad HiBob token", core_error(sync_env, "run"))
        scan.error("connect with a bad HiBob token", core_error(sync_env, "connect"))
        monkeypatch.setenv("HIBOB_SERVICE_USER_TOKEN", canary)
        monkeypatch.setenv("HITHRIVE_SCIM_TOKEN", wrong_scim)
        assert scan.cli("-vv", "run").exit_code == 77
        assert scan.cli("-vv", "--traceback", "check").exit_code == 77
        assert scan.cli("-vv", "connect", "--from-env").exit_code == 77
        scan.error("run with a bad SCIM token", core_error(sync_env, "run"))
        scan.error("connect with a bad SCIM token", core_error(sync_env, "connect"))
        settings = load_settings(sync_env.config)
        checklist = run_checks(settings, load_mapping(settings.mapping_path), http=sync_env.http)
        scan.texts["check items"] = repr(checklist)
    # The failed connects did not replace the good stored token.
    assert keyring.get_password(credentials.SERVICE, credentials.HIBOB_TOKEN.key) == canary
    assert "rejected" in scan.texts["stderr of -vv run"]
    scan.assert_clean()


def test_interactive_connect_never_echoes_the_secrets(
    sync_env: SyncEnv, canary: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for item in credentials.ALL:
        monkeypatch.delenv(item.env)
    result = sync_env.cli("connect", input=f"canary-user\n{canary}\n{SCIM_TOKEN}\n", terminal=True)
    assert result.exit_code == 0, result.output
    assert "HiBob service user token" in result.stdout  # the prompts were shown
    assert leaks([canary, SCIM_TOKEN], stdout=result.stdout, stderr=result.stderr) == []
    assert keyring.get_password(credentials.SERVICE, credentials.SCIM_TOKEN.key) == SCIM_TOKEN


def _all_commands(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    for name, command in group.commands.items():
        yield f"{prefix}{name}", command
        if isinstance(command, click.Group):
            yield from _all_commands(command, f"{prefix}{name} ")


def test_no_command_takes_a_secret_as_an_argument() -> None:
    commands = [("", cli), *_all_commands(cli)]
    assert {"connect", "run", "check", "map set"} <= {name for name, _ in commands}
    for name, command in commands:
        for param in command.params:
            words = [param.name or "", *param.opts, *param.secondary_opts]
            envvar = param.envvar if isinstance(param.envvar, str) else ""
            for word in [*words, envvar]:
                lowered = word.lower().replace("-", "_")
                assert not any(s in lowered for s in SECRET_WORDS), (name, word)


# -- privacy -----------------------------------------------------------------------------------


def test_hibob_is_asked_for_the_mapped_fields_only(sync_env: SyncEnv) -> None:
    assert sync_env.run("--dry-run").exit_code == 0  # reads HiBob exactly as a run does
    (body,) = sync_env.sandbox.search_bodies
    mapped = {
        "root.email",
        "work.employeeIdInCompany",
        "work.title",
        "work.startDate",
        "personal.birthDate",
        "work.department",
        TEAMS_FIELD,
        "work.site",
        GROUPS_FIELD,
        "work.reportsTo",  # for work.reportsTo.email: HiBob is asked for catalogue fields
    }
    assert set(REQUIRED_FIELDS) == {
        "root.id",
        "internal.lifecycleStatus",
        "internal.status",
        "internal.terminationDate",
    }
    assert sorted(body["fields"]) == sorted(mapped | set(REQUIRED_FIELDS))
    assert len(body["fields"]) == len(set(body["fields"]))
    assert body.get("filters") is None and body["showInactive"] is True

    # A smaller mapping asks for less: nothing is fetched "just in case".
    (sync_env.folder / "mapping.yaml").write_text(
        "mapping:\n  email: root.email\n  job_title: work.title\n", encoding="utf-8"
    )
    sync_env.sandbox.reset_records()
    assert sync_env.run("--dry-run").exit_code == 0
    (body,) = sync_env.sandbox.search_bodies
    assert sorted(body["fields"]) == sorted({"root.email", "work.title", *REQUIRED_FIELDS})


def profile_values(env: SyncEnv) -> set[str]:
    """Every profile value of the sandbox that is not an email, ID or plain number."""
    company = env.sandbox.company
    values: set[str] = set()
    for employee_id in company.ids():
        record = company.get(employee_id)
        for field_id in ("work.title", "personal.birthDate", "work.startDate"):
            value = company.display(employee_id, field_id)
            if value:
                values.add(str(value))
        manager = record.get("work.reportsTo")
        if isinstance(manager, dict):
            values.add(str(manager["displayName"]))  # sent along with the manager's email
        values.add(str(record["root.displayName"]))
    return values


def test_no_profile_value_in_logs_state_or_history_and_state_is_0600(
    sync_env: SyncEnv, caplog: pytest.LogCaptureFixture
) -> None:
    company = sync_env.sandbox.company
    planted = {
        "work.title": "Canary Title Qx7",
        "personal.birthDate": "1971-07-17",
        "work.department": "Canary Department Zq9",
        TEAMS_FIELD: "Canary Team Vw3",
    }
    employee_id = sorted(company.ids())[3]
    company.update(employee_id, planted)
    bad_date = company.add({"root.email": "bad.date@acme.example", "work.startDate": "1999-02-30"})
    values = profile_values(sync_env) | set(planted.values()) | {"1999-02-30"}
    assert len(values) > 60

    caplog.set_level(logging.DEBUG)
    with all_logs(caplog):
        runs = [sync_env.cli("-vv", "run"), sync_env.cli("-vv", "run", "--json")]
        assert stat.S_IMODE(sync_env.state.stat().st_mode) == 0o600
        assert stat.S_IMODE(sync_env.state.parent.stat().st_mode) == 0o700
        os.chmod(sync_env.state, 0o644)  # loosened by someone: tightened by the next run
        company.update(employee_id, {"work.title": "Canary Title Two"})
        runs.append(sync_env.cli("-vv", "run"))
        history = [sync_env.cli("history"), sync_env.cli("history", "--json", "-n", "10")]
    values.add("Canary Title Two")
    assert [r.exit_code for r in runs] == [1, 0, 0], runs[0].output
    assert stat.S_IMODE(sync_env.state.stat().st_mode) == 0o600
    lock = sync_env.state.with_name("state.db.lock")
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    assert sync_env.users_by_external_id()[employee_id]["title"] == "Canary Title Two"
    texts: dict[str, str | bytes] = {"log records": log_text(caplog)}
    for number, result in enumerate(runs + history):
        texts[f"stdout {number}"] = result.stdout
        texts[f"stderr {number}"] = result.stderr
    texts["state store"] = state_bytes(sync_env.state)
    assert leaks(values, **texts) == []

    # History: counts, IDs, emails and reasons only.
    recorded = json.loads(history[1].stdout)
    assert len(recorded) == 3
    for run in recorded:
        assert set(run) == {
            "started_at",
            "finished_at",
            "exit_code",
            "outcome",
            "partial",
            "message",
            "counts",
            "failures",
            "vanished",
        }
        assert run["partial"] is False
        assert all(isinstance(count, int) for count in run["counts"].values())
        for vanished in run["vanished"]:  # HiBob IDs and times only
            assert set(vanished) == {"employee_id", "missing_since", "deactivated"}
        for failure in run["failures"]:
            assert set(failure) == {"employee_id", "email", "reason", "since"}
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", failure["since"])  # a date, no value
    assert any(f["employee_id"] == bad_date for f in recorded[0]["failures"])


def test_a_scim_error_quoting_profile_values_is_masked(sync_env: SyncEnv) -> None:
    """A server's error detail may echo what it was sent; reasons are logged and stored."""
    assert sync_env.run().exit_code == 1
    company = sync_env.sandbox.company
    newcomer = company.add(
        {
            "root.email": "echo@acme.example",
            "work.title": "Canary Title Qx7",
            "personal.birthDate": "1971-07-17",
            "work.department": "Canary Department Zq9",
        }
    )
    existing = sorted(sync_env.users_by_external_id())[2]
    old_title = str(company.display(existing, "work.title"))
    company.update(existing, {"work.title": "Canary Title Two"})
    quoted = {"Canary Title Qx7", "1971-07-17", "Canary Department Zq9", "Canary Title Two"}
    quoted.add(old_title)

    def refusal(detail: str) -> dict[str, str]:
        return {
            "schemas": [SCIM_ERROR],
            "status": "400",
            "scimType": "invalidValue",
            "detail": detail,
        }

    sync_env.scim.respond(
        400,
        refusal(
            "title 'Canary Title Qx7' too odd; birthDate=1971-07-17; teams: [Canary Department Zq9]"
        ),
        method="POST",
        path="/Users",
    )
    for method in ("PATCH", "PUT"):  # the PUT: a refused PATCH's last form (scim_dialect)
        sync_env.scim.respond(
            400,
            refusal(f"cannot replace title {old_title!r} with 'Canary Title Two'"),
            method=method,
            path="/Users",
        )
    result = sync_env.run("--json")
    assert result.exit_code == 1, result.output
    failures = {f["employee_id"]: f["reason"] for f in json.loads(result.stdout)["failures"]}
    assert "HTTP 400, invalidValue" in failures[newcomer]
    assert "title '<value>' too odd; birthDate=<value>" in failures[newcomer]
    assert failures[existing].endswith("cannot replace title '<value>' with '<value>'")
    history = sync_env.cli("history", "--json")
    texts = {"stdout": result.stdout, "stderr": result.stderr, "history": history.stdout}
    assert leaks(quoted, **texts, state=state_bytes(sync_env.state)) == []


def test_dry_run_shows_values_on_stdout_only(
    sync_env: SyncEnv, caplog: pytest.LogCaptureFixture
) -> None:
    """--dry-run prints the plan (values included) for the admin who asked; nothing else."""
    caplog.set_level(logging.DEBUG)
    with all_logs(caplog):
        result = sync_env.cli("-vv", "run", "--dry-run")
    assert result.exit_code == 0
    titles = {str(v) for v in sync_env.sandbox.company.list_items("work.title").values()}
    assert any(title in result.stdout for title in titles)
    assert leaks(titles, stderr=result.stderr, logs=log_text(caplog)) == []
    assert not sync_env.state.exists() and scim_writes(sync_env) == []
