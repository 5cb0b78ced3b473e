"""`check` and `connect` hints for HiBob's permission model, through the CLI.

Source for every test here: ../shared/hibob-api.md ("Access", "Field catalogue", "Limits and
errors"): reading a field needs View on its category; a full date of birth needs View and Edit
under HiBob's older permission rule (View alone gives nothing or the short date); older
catalogues carry only `category`; a scope condition "lifecycle status is Employed" hides
Hired and on-leave people; repeated 401/403 can get the caller firewalled.
"""

from __future__ import annotations

import os
from typing import Any

from hibob_sync.sandbox import FIELDS_PATH
from hibob_sync.sandbox.catalogue import CATEGORIES, catalogue_json
from tests.sync_fixtures import SyncEnv


def use_hibob_user(env: SyncEnv, categories: set[str] | None, scope: str = "all") -> None:
    env.sandbox.add_service_user(
        "other-user", "other-token", categories=categories, people_scope=scope
    )
    os.environ["HIBOB_SERVICE_USER_ID"] = "other-user"
    os.environ["HIBOB_SERVICE_USER_TOKEN"] = "other-token"


def all_but(*names: str) -> set[str]:
    return {cid for cid, display in CATEGORIES.items() if display not in names}


def test_without_the_lifecycle_category_check_says_to_grant_it(sync_env: SyncEnv) -> None:
    use_hibob_user(sync_env, all_but("Lifecycle"))
    result = sync_env.cli("check")
    assert result.exit_code == 77, result.output
    assert "grant View on the HiBob category 'Lifecycle'" in result.stdout
    assert "Lifecycle status is Employed" not in result.stdout  # the other problem's fix


def test_inactive_out_of_scope_says_to_change_the_scope(sync_env: SyncEnv) -> None:
    use_hibob_user(sync_env, set(CATEGORIES), scope="employed")
    result = sync_env.cli("check")
    assert result.exit_code == 77, result.output
    assert "no inactive employees are visible" in result.stdout
    assert "also hides Hired and on-leave people" in result.stdout
    assert "category 'Lifecycle'" not in result.stdout


def test_older_catalogue_names_the_category_id_never_unknown(sync_env: SyncEnv) -> None:
    older: list[dict[str, Any]] = []
    for entry in catalogue_json():
        entry = dict(entry, category=entry["categoryId"])
        del entry["categoryId"], entry["categoryDisplayName"]
        if entry["id"] == "work.site":
            del entry["category"]  # no category at all
        older.append(entry)
    use_hibob_user(sync_env, all_but("Personal", "Work"))
    sync_env.sandbox.answer_next(200, older, path=FIELDS_PATH)
    result = sync_env.cli("check")
    assert result.exit_code == 77, result.output
    assert "personal.birthDate (birthday): grant View on the HiBob category 'personal'" in (
        result.stdout
    )
    assert "work.site (groups): grant View on its HiBob category" in result.stdout
    assert "unknown" not in result.stdout


def test_short_date_of_birth_says_view_and_edit(sync_env: SyncEnv) -> None:
    sync_env.sandbox.birth_dates = "short"
    result = sync_env.cli("check")
    assert result.exit_code == 0, result.output
    assert "[note] personal.birthDate comes back without the year for every employee" in (
        result.stdout
    )
    assert "needs View and Edit" in result.stdout


def test_missing_date_of_birth_with_its_category_granted_says_view_and_edit(
    sync_env: SyncEnv,
) -> None:
    sync_env.sandbox.birth_dates = "none"
    result = sync_env.cli("check")
    assert result.exit_code == 77, result.output
    assert "cannot read personal.birthDate (birthday)" in result.stdout
    assert "a full date of birth needs View and Edit on that category" in result.stdout


def test_check_stops_at_the_first_403(sync_env: SyncEnv) -> None:
    use_hibob_user(sync_env, None)  # in no permission group: the search is refused
    result = sync_env.cli("check")
    assert result.exit_code == 77, result.output
    assert sync_env.sandbox.requests_by_endpoint == {"fields": 1, "search": 1}


def test_connect_stops_at_the_first_401(sync_env: SyncEnv) -> None:
    os.environ["HIBOB_SERVICE_USER_TOKEN"] = "wrong-token"
    result = sync_env.cli("connect", "--from-env")
    assert result.exit_code == 77, result.output
    assert sync_env.sandbox.request_count() == 1
    assert sync_env.scim.requests == []  # HiBob failed: SCIM is not even tried


def test_connect_stops_at_the_first_403(sync_env: SyncEnv) -> None:
    use_hibob_user(sync_env, None)
    result = sync_env.cli("connect", "--from-env")
    assert result.exit_code == 77, result.output
    assert sync_env.sandbox.requests_by_endpoint == {"fields": 1, "search": 1}
