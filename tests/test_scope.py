"""`scope:` and `hithrive.protect` end to end: the HiBob sandbox, scim2-server, the real CLI."""

from __future__ import annotations

import json
import os

from hibob_sync.config.scope import Scope
from hibob_sync.core.scope import judge
from hibob_sync.hibob.answers import HibobEmployee
from tests.sync_fixtures import ENTERPRISE, SyncEnv
from tests.test_run import active_users, expected_users, scim_writes


def scoped(include: str = "", exclude: str = "", policy: str = "") -> str:
    """A `scope:` block (each rule a `field: [values]` line, or several joined by newlines)."""
    lines = ["scope:"]
    for kind, rules in (("include", include), ("exclude", exclude)):
        if rules:
            lines.append(f"  {kind}:")
            lines += [f"    {rule}" for rule in rules.splitlines()]
    if policy:
        lines.append(f"  out_of_scope: {policy}")
    return "\n".join(lines) + "\n"


def site_of(env: SyncEnv, employee_id: str) -> str:
    return str(env.sandbox.company.display(employee_id, "work.site"))


def test_include_on_a_list_field_syncs_only_that_site(sync_env: SyncEnv) -> None:
    expected = expected_users(sync_env)
    site = site_of(sync_env, sorted(expected)[0])
    sync_env.write_config(extra=scoped(include=f"work.site: [{site.upper()}]"))  # any case

    result = sync_env.run("--json")
    assert result.exit_code in (0, 1), result.output
    synced = set(sync_env.users_by_external_id())
    in_site = {i for i in expected if site_of(sync_env, i) == site}
    assert synced == in_site and in_site != set(expected)
    company = sync_env.sandbox.company
    assert json.loads(result.stdout)["counts"]["out_of_scope"] == sum(
        1 for i in company.ids() if site_of(sync_env, i) != site
    )


def test_exclude_on_root_id_and_a_plain_field(sync_env: SyncEnv) -> None:
    expected = expected_users(sync_env)
    first, second = sorted(expected)[:2]
    surname = str(sync_env.sandbox.company.get(second)["root.surname"])
    sharing = {i for i in expected if sync_env.sandbox.company.get(i)["root.surname"] == surname}
    rules = f'root.id: ["{first}"]\nroot.surname: [{surname.lower()}]'
    sync_env.write_config(extra=scoped(exclude=rules))

    assert sync_env.run().exit_code in (0, 1)
    assert set(sync_env.users_by_external_id()) == set(expected) - {first} - sharing


def test_leaving_the_scope_deactivates_and_counts_toward_the_safeguard(sync_env: SyncEnv) -> None:
    sync_env.run()
    leaver = active_users(sync_env)[0]
    user = sync_env.users_by_external_id()[leaver]
    sync_env.write_config(extra=scoped(exclude=f'root.id: ["{leaver}"]'))
    sync_env.scim.reset_counts()

    result = sync_env.run("--json")
    assert result.exit_code == 0, result.output
    assert scim_writes(sync_env) == [("PATCH", f"/Users/{user['id']}")]
    assert sync_env.users_by_external_id()[leaver]["active"] is False
    counts = json.loads(result.stdout)["counts"]
    assert counts["deactivate"] == 1 and counts["out_of_scope"] == 1

    # A site leaving the scope is a mass deactivation: the safeguard stops it.
    site = site_of(sync_env, active_users(sync_env)[1])
    sync_env.write_config(extra=scoped(exclude=f"work.site: [{site}]"), max_deactivations=1)
    sync_env.scim.reset_counts()
    result = sync_env.run()
    assert result.exit_code == 65, result.output
    assert "max_deactivations" in result.stderr and scim_writes(sync_env) == []


def test_leaving_the_scope_under_ignore_changes_nobody(sync_env: SyncEnv) -> None:
    sync_env.run()
    leaver = active_users(sync_env)[0]
    sync_env.sandbox.company.terminate(leaver)  # never changed, whatever HiBob says
    sync_env.write_config(extra=scoped(exclude=f'root.id: ["{leaver}"]', policy="ignore"))
    sync_env.scim.reset_counts()

    result = sync_env.run("--json")
    assert result.exit_code == 0, result.output
    assert scim_writes(sync_env) == []
    assert sync_env.users_by_external_id()[leaver]["active"] is True
    assert json.loads(result.stdout)["counts"]["out_of_scope"] == 1


def test_reports_to_points_at_an_out_of_scope_managers_user(sync_env: SyncEnv) -> None:
    sync_env.run()
    manager = active_users(sync_env)[0]
    manager_user = sync_env.users_by_external_id()[manager]
    sync_env.write_config(extra=scoped(exclude=f'root.id: ["{manager}"]', policy="ignore"))
    hire = sync_env.sandbox.company.add(
        {"root.email": "new.report@acme.example", "work.reportsTo": manager}
    )
    assert sync_env.run().exit_code == 0
    created = sync_env.users_by_external_id()[hire]
    assert created[ENTERPRISE]["manager"]["value"] == manager_user["id"]


def test_a_scope_typo_is_78_with_the_closest_field(sync_env: SyncEnv) -> None:
    sync_env.write_config(extra=scoped(include="work.sitee: [London]"))
    result = sync_env.run()
    assert result.exit_code == 78, result.output
    assert "work.sitee" in result.stderr and "did you mean work.site" in result.stderr
    assert scim_writes(sync_env) == [] and "Traceback" not in result.output
    check = sync_env.cli("check")
    assert check.exit_code == 78 and "did you mean work.site" in check.stdout


def test_unknown_scope_keys_and_bad_values_are_78(sync_env: SyncEnv) -> None:
    sync_env.write_config(extra="scope:\n  includes:\n    work.site: [London]\n")
    result = sync_env.run()
    assert result.exit_code == 78 and "scope.includes" in result.stderr
    sync_env.write_config(extra="scope:\n  include:\n    work.site: [[London]]\n")
    result = sync_env.run()
    assert result.exit_code == 78 and "scope.include.work.site" in result.stderr
    sync_env.write_config(extra=scoped(include="work.site: [London]", policy="delete"))
    result = sync_env.run()
    assert result.exit_code == 78 and "scope.out_of_scope" in result.stderr


def test_scope_values_never_reach_scim_the_state_store_or_the_log(sync_env: SyncEnv) -> None:
    company = sync_env.sandbox.company
    surnames = {str(company.get(i)["root.surname"]) for i in company.ids()}
    kept = sorted(surnames)[: len(surnames) // 2]
    sync_env.write_config(extra=scoped(include=f"root.surname: [{', '.join(kept)}]"))

    result = sync_env.cli("-vv", "run")
    assert result.exit_code in (0, 1), result.output
    assert sync_env.users()  # some were synced
    sent = json.dumps([call.body for call in sync_env.scim.calls])
    stored = sync_env.state.read_bytes()
    # Rule values are config, not HR data: only the others' surnames prove nothing leaked.
    for surname in surnames - set(kept):
        assert f'"{surname}"' not in sent and surname.encode() not in stored
        assert surname not in result.stderr


def test_check_names_what_to_grant_for_an_unreadable_scope_field(sync_env: SyncEnv) -> None:
    sync_env.write_config(extra=scoped(exclude="work.custom.field_1700000000002: [Chess club]"))
    assert "can read work.custom.field_1700000000002" in sync_env.cli("check").stdout
    sync_env.sandbox.add_service_user(
        "no-engagement",
        "no-engagement-token",
        categories={"root", "work", "identification", "lifecycle", "personal"},
        people_scope="all",
    )
    (sync_env.folder / "mapping.yaml").write_text(
        "mapping:\n  email: root.email\n  job_title: work.title\n", encoding="utf-8"
    )
    os.environ["HIBOB_SERVICE_USER_ID"] = "no-engagement"
    os.environ["HIBOB_SERVICE_USER_TOKEN"] = "no-engagement-token"
    check = sync_env.cli("check")
    assert check.exit_code == 77
    assert "cannot read work.custom.field_1700000000002 (scope)" in check.stdout
    assert "'Engagement'" in check.stdout
    result = sync_env.run()  # unreadable: every rule would miss; nothing is written
    assert result.exit_code == 77 and "'Engagement'" in result.stderr
    assert scim_writes(sync_env) == []


def test_protect_holds_against_a_title_change_and_a_termination(sync_env: SyncEnv) -> None:
    sync_env.run()
    retitled, leaver = active_users(sync_env)[:2]
    users = sync_env.users_by_external_id()
    names = [users[retitled]["userName"].upper(), users[leaver]["userName"]]
    protect_users(sync_env, names)
    company = sync_env.sandbox.company
    title = next(
        t for t in company.list_items("work.title") if t != company.get(retitled)["work.title"]
    )
    company.update(retitled, {"work.title": title})
    company.terminate(leaver)
    sync_env.scim.reset_counts()

    result = sync_env.run("--json")
    assert result.exit_code == 0, result.output
    assert scim_writes(sync_env) == []
    counts = json.loads(result.stdout)["counts"]
    assert counts["protected"] == 2 and counts["deactivate"] == 0
    assert sync_env.users_by_external_id()[leaver]["active"] is True
    assert "protected" in sync_env.cli("history").stdout


def protect_users(env: SyncEnv, names: list[str]) -> None:
    """config.yaml with hithrive.protect listing ``names``."""
    env.write_config()
    text = env.config.read_text(encoding="utf-8")
    text = text.replace("hithrive:\n", f"hithrive:\n  protect: [{', '.join(names)}]\n", 1)
    env.config.write_text(text, encoding="utf-8")


def _employee(values: dict[str, object], employee_id: str = "1") -> HibobEmployee:
    return HibobEmployee(employee_id, "Employed", "Active", None, values)


def test_rules_on_list_values_missing_values_and_root_id() -> None:
    scope = Scope(include={"work.custom.field_9": ("Chess", "go")}, exclude={"root.id": ("7",)})
    assert judge(_employee({"work.custom.field_9": ["Tennis", "GO"]}), scope).in_scope
    out = judge(_employee({"work.custom.field_9": None}), scope)
    assert not out.in_scope and "include work.custom.field_9" in out.rule
    out = judge(_employee({"work.custom.field_9": "chess"}, "7"), scope)
    assert not out.in_scope and "exclude root.id: [7]" in out.rule
    # no value: an exclude rule never holds
    assert judge(_employee({}), Scope(exclude={"work.site": ("Paris",)})).in_scope
