"""Mapping mistakes caught at set-up: unknown fields, fields of the wrong kind, wrong values."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hibob_sync.config.mapping import load_mapping
from hibob_sync.config.mapping_check import sample_problems
from tests.sync_fixtures import SyncEnv

TYPO = "did you mean work.title (Job title)?"


def test_map_set_refuses_a_field_hibob_does_not_have(sync_env: SyncEnv) -> None:
    before = (sync_env.folder / "mapping.yaml").read_text()
    result = sync_env.cli("map", "set", "job_title", "work.titel")
    assert result.exit_code == 78, result.output
    assert "mapping.job_title: HiBob has no field work.titel" in result.stderr
    assert TYPO in result.stderr
    assert (sync_env.folder / "mapping.yaml").read_text() == before  # nothing saved


def test_validate_and_check_refuse_a_hand_typed_unknown_field(sync_env: SyncEnv) -> None:
    path = sync_env.folder / "mapping.yaml"
    path.write_text(path.read_text().replace("job_title: work.title", "job_title: work.titel"))
    validate = sync_env.cli("map", "validate")
    assert validate.exit_code == 78
    assert TYPO in validate.stderr and "OK" not in validate.stdout
    check = sync_env.cli("check")
    assert check.exit_code == 78
    assert f"[FAIL] mapping.job_title: HiBob has no field work.titel; {TYPO}" in check.stdout


@pytest.mark.parametrize(
    ("field", "source", "needs"),
    [
        ("email", "work.title", "email needs a text or email field"),
        ("start_date", "work.title", "start_date needs a date field"),
        ("teams", "work.startDate", "teams needs a list or text field"),
        ("manager_email", "work.site", "manager_email needs an employee reference"),
    ],
)
def test_a_field_of_the_wrong_kind_is_refused(
    sync_env: SyncEnv, field: str, source: str, needs: str
) -> None:
    result = sync_env.cli("map", "set", field, source)
    assert result.exit_code == 78, result.output
    assert f"mapping.{field}: {source}" in result.stderr and needs in result.stderr
    path = sync_env.folder / "mapping.yaml"
    path.write_text(path.read_text().replace(f"  {field}:", f"  {field}: {source}  #", 1))
    check = sync_env.cli("check")
    assert check.exit_code == 78 and needs in check.stdout


def test_check_samples_the_values_that_come_back(sync_env: SyncEnv) -> None:
    # A text field passes the type check, but its values are names, not addresses.
    path = sync_env.folder / "mapping.yaml"
    path.write_text(path.read_text().replace("email: root.email", "email: root.firstName"))
    result = sync_env.cli("check")
    assert result.exit_code == 78, result.stdout
    assert "[FAIL] email: 0 of " in result.stdout
    assert "values of root.firstName are addresses" in result.stdout
    path.write_text(path.read_text().replace("email: root.firstName", "email: root.email"))
    result = sync_env.cli("check")
    assert result.exit_code == 0, result.stdout
    assert "[ok  ] start_date: " in result.stdout and "are dates" in result.stdout


def test_list_ids_instead_of_names_are_named(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text("mapping:\n  email: root.email\n  job_title: work.title\n")
    problems, _ = sample_problems(load_mapping(path), {"work.title": ["123456789"] * 40})
    assert [p.text for p in problems] == [
        "job_title: 40 of 40 values of work.title look like list IDs, not names"
    ]


def test_map_without_credentials_still_edits_and_says_not_verified(
    sync_env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HIBOB_SERVICE_USER_ID", "HIBOB_SERVICE_USER_TOKEN"):
        monkeypatch.delenv(name)
    result = sync_env.cli("map", "set", "job_title", "work.titel")
    assert result.exit_code == 0, result.output
    assert "not verified against HiBob's field catalogue" in result.stderr
    assert sync_env.sandbox.request_count() == 0

    answers = "\n".join(["", "", "work.title", "", "", "", "", "", "", "y"]) + "\n"
    result = sync_env.cli("map", input=answers, terminal=True)
    assert result.exit_code == 0, result.output
    assert "fields are not verified" in result.stderr
    assert "not verified against HiBob" in result.stdout
    assert "job_title: work.title" in (sync_env.folder / "mapping.yaml").read_text()


def test_interactive_map_suggests_the_closest_field(sync_env: SyncEnv) -> None:
    answers = "\n".join(["", "", "Job titel", "work.title", "", "", "", "", "", "", "y"]) + "\n"
    result = sync_env.cli("map", input=answers, terminal=True)
    assert result.exit_code == 0, result.output
    assert "no HiBob field matches 'Job titel'; did you mean work.title (Job title)?" in (
        result.stdout
    )
    answers = "\n".join(["work.title", "root.email", "", "", "", "", "", "", "", "y"]) + "\n"
    result = sync_env.cli("map", input=answers, terminal=True)
    assert "mapping.email: work.title (Job title) is a list field" in result.stdout


def test_map_set_keeps_the_comments_of_a_hand_edited_file(sync_env: SyncEnv) -> None:
    path = sync_env.folder / "mapping.yaml"
    path.write_text(
        "# Mapping agreed with HR, 3 May\n"
        "mapping:\n"
        "  email: root.email          # the login\n"
        "  # titles come from the Work category\n"
        "  job_title: work.title      # shown on profiles\n"
        "  teams:\n"
        "    - work.department\n"
        "  groups: work.site\n"
    )
    result = sync_env.cli("map", "set", "teams", "work.site", "work.department")
    assert result.exit_code == 0, result.output
    assert sync_env.cli("map", "unset", "groups").exit_code == 0
    assert sync_env.cli("map", "set", "job_title", "work.department").exit_code == 0
    assert path.read_text() == (
        "# Mapping agreed with HR, 3 May\n"
        "mapping:\n"
        "  email: root.email          # the login\n"
        "  # titles come from the Work category\n"
        "  job_title: work.department  # shown on profiles\n"
        "  teams: [work.site, work.department]\n"
    )
    assert os.access(path, os.R_OK)
