"""`hibob-sync explain WHO`: each outcome and its rule, as text and --json, reading only."""

from __future__ import annotations

import json
from typing import Any

from tests.sync_fixtures import SyncEnv
from tests.test_only import retitle
from tests.test_run import active_users, scim_writes
from tests.test_scope import protect_users, scoped


def explain(env: SyncEnv, who: str) -> tuple[int, str, dict[str, Any]]:
    """(exit code, text, --json document) of `explain WHO`, checking it wrote nothing."""
    before = len(env.scim.writes)
    text = env.cli("explain", who)
    document = env.cli("explain", who, "--json")
    assert text.exit_code == document.exit_code, text.output
    assert len(env.scim.writes) == before  # reads only
    return text.exit_code, text.stdout, json.loads(document.stdout)


def test_in_sync_and_an_update_with_its_safeguard(sync_env: SyncEnv) -> None:
    sync_env.run()
    employee_id = active_users(sync_env)[0]
    email = sync_env.users_by_external_id()[employee_id]["userName"]
    code, text, document = explain(sync_env, email.upper())
    assert code == 0 and "Tonight:   unchanged" in text and "in sync" in text
    assert document["hibob"]["employee_id"] == employee_id
    assert document["hithrive"]["externalId"] == employee_id
    assert document["scope"]["in_scope"] is True

    old = sync_env.sandbox.company.display(employee_id, "work.title")
    retitle(sync_env, employee_id)
    title = sync_env.sandbox.company.display(employee_id, "work.title")
    code, text, document = explain(sync_env, employee_id)
    assert code == 0 and "Tonight:   update" in text
    assert f"job_title       {old} -> {title}" in text
    assert document["decision"]["changes"]["job_title"] == {"before": old, "after": title}
    assert any("sync.max_changes" in s for s in document["decision"]["safeguards"])


def test_a_new_starter_is_created_and_a_leaver_counts_toward_max_deactivations(
    sync_env: SyncEnv,
) -> None:
    sync_env.run()
    hire = sync_env.sandbox.company.add({"root.email": "new.person@acme.example"})
    code, text, document = explain(sync_env, "new.person@acme.example")
    assert code == 0 and document["decision"]["outcome"] == "create"
    assert document["hithrive"] is None and document["hibob"]["employee_id"] == hire

    leaver = active_users(sync_env)[0]
    sync_env.sandbox.company.terminate(leaver)
    code, text, document = explain(sync_env, leaver)
    assert document["decision"]["outcome"] == "deactivate"
    assert "Safeguard: counts toward sync.max_deactivations (10%)" in text


def test_out_of_scope_names_the_rule(sync_env: SyncEnv) -> None:
    employee_id = active_users(sync_env)[0]
    sync_env.write_config(extra=scoped(exclude=f'root.id: ["{employee_id}"]'))
    code, text, document = explain(sync_env, employee_id)
    assert code == 0 and document["decision"]["outcome"] == "out of scope"
    assert f"exclude root.id: [{employee_id}]" in text and "Scope:     OUT" in text

    sync_env.write_config()
    sync_env.run()
    sync_env.write_config(extra=scoped(exclude=f'root.id: ["{employee_id}"]'))
    code, text, document = explain(sync_env, employee_id)
    assert document["decision"]["outcome"] == "deactivate"
    assert any("out of scope" in r for r in document["decision"]["reasons"])
    assert document["decision"]["safeguards"] == ["sync.max_deactivations (10%)"]


def test_set_aside_since_the_first_run_that_saw_it(sync_env: SyncEnv) -> None:
    sync_env.run()
    no_email = sync_env.sandbox.company.awkward["no_email"][0]
    code, text, document = explain(sync_env, no_email)
    assert code == 0 and document["decision"]["outcome"] == "set aside"
    assert "no email in HiBob (since 2023-11-14)" in text


def test_waiting_in_the_grace_window_until_when(sync_env: SyncEnv) -> None:
    sync_env.run()
    gone = active_users(sync_env)[0]
    email = sync_env.users_by_external_id()[gone]["userName"]
    sync_env.sandbox.company.remove(gone)
    sync_env.run()  # the countdown starts
    sync_env.clock.advance(3600)
    code, text, document = explain(sync_env, email)
    assert code == 0 and document["hibob"] is None
    assert document["decision"]["outcome"] == "waiting"
    assert "until 2023-11-17T22:13:20+00:00" in text  # the first miss + sync.vanished_grace


def test_protected_and_unmanaged_users(sync_env: SyncEnv) -> None:
    sync_env.run()
    employee_id = active_users(sync_env)[0]
    email = sync_env.users_by_external_id()[employee_id]["userName"]
    protect_users(sync_env, [email])
    retitle(sync_env, employee_id)
    code, text, document = explain(sync_env, email)
    assert document["decision"]["outcome"] == "protected"
    assert "hithrive.protect" in text
    assert f"hithrive.protect lists {email} (without it, tonight: update of job_title)" in text

    sync_env.scim.seed(
        [
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "visitor@elsewhere.example",
                "active": True,
            }
        ]
    )
    code, text, document = explain(sync_env, "visitor@elsewhere.example")
    assert code == 0 and document["decision"]["outcome"] == "unmanaged"
    assert "no externalId" in text


def test_nobody_knows_them_exit_1(sync_env: SyncEnv) -> None:
    code, _, document = explain(sync_env, "nobody@nowhere.example")
    assert code == 1 and document["decision"]["outcome"] == "unknown"
    assert not sync_env.state.exists()  # explain never creates the state store
    assert scim_writes(sync_env) == []


def test_hr_text_is_escaped(sync_env: SyncEnv) -> None:
    sync_env.run()
    employee_id = active_users(sync_env)[0]
    sync_env.sandbox.company.update(employee_id, {"work.title": "Boss\x1b[2J\nVerdict: all good"})
    _, text, _ = explain(sync_env, employee_id)
    assert "\x1b" not in text and "\\x1b[2J\\nVerdict: all good" in text  # HiBob's, escaped
    assert "-> Boss[2J Verdict: all good" in text  # what is written: without them


def test_a_duplicate_email_named_by_id_is_set_aside_as_run_only_sets_it(
    sync_env: SyncEnv,
) -> None:
    first, second = sync_env.sandbox.company.awkward["duplicate_email"]
    code, text, document = explain(sync_env, first)
    assert code == 0 and document["decision"]["outcome"] == "set aside"
    assert "the same email is used by 2 active employees" in text and second in text
    run = sync_env.run("--only", first)
    assert run.exit_code == 1 and "the same email is used by 2 active employees" in run.stderr


def test_a_rehire_takes_over_the_old_records_user_not_a_hand_made_one(
    sync_env: SyncEnv,
) -> None:
    sync_env.run()
    old = active_users(sync_env)[0]
    user = sync_env.users_by_external_id()[old]
    company = sync_env.sandbox.company
    company.terminate(old)
    sync_env.run()  # the leaver's user is deactivated
    rehire = company.add({"root.email": user["userName"]})  # back, with a new HiBob record
    code, text, document = explain(sync_env, rehire)
    assert code == 0 and document["decision"]["outcome"] == "adopt", text
    reason = document["decision"]["reasons"][0]
    assert reason == (
        f"the HiThrive user of HiBob employee {old} (an earlier record with this email, no "
        f"longer active in HiBob) is taken over and made active again: its externalId set to "
        f"{rehire}"
    )
    assert "added by hand" not in text

    sync_env.scim.seed(
        [
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "hand.made@acme.example",
                "active": True,
            }
        ]
    )
    company.add({"root.email": "hand.made@acme.example"})
    _, text, document = explain(sync_env, "hand.made@acme.example")
    assert document["decision"]["reasons"][0].startswith(
        "the HiThrive user (added by hand) is adopted: its externalId set"
    ), text


def test_the_manager_hithrive_holds_is_named_by_email_with_one_lookup(sync_env: SyncEnv) -> None:
    sync_env.run()
    users = sync_env.users_by_external_id()
    employee_id, old_boss, new_boss = active_users(sync_env)[:3]
    company = sync_env.sandbox.company
    company.update(employee_id, {"work.reportsTo": old_boss})
    assert sync_env.run("--only", employee_id).exit_code == 0
    company.update(employee_id, {"work.reportsTo": new_boss})  # HR moves them to a new team
    old_email, new_email = users[old_boss]["userName"], users[new_boss]["userName"]

    code, text, document = explain(sync_env, employee_id)
    assert code == 0 and "unknown SCIM id" not in text, text
    assert document["hithrive"]["values"]["manager_email"] == old_email
    assert document["decision"]["changes"]["manager_email"] == {
        "before": old_email,
        "after": new_email,
    }
    assert f"  manager_email   {old_email} -> {new_email}" in text

    sync_env.scim.reset_counts()
    explain(sync_env, employee_id)
    assert sync_env.scim.count("GET", "/Users") == 2 * 2  # the person's lookup, the manager's

    gone = users[old_boss]["id"]
    sync_env.scim.delete(gone)  # the manager's user deleted by hand in HiThrive
    _, text, document = explain(sync_env, employee_id)
    plainly = f"(a user with SCIM id {gone}: the server has no such user)"
    assert document["hithrive"]["values"]["manager_email"] == plainly, text
    assert f"  manager_email   {plainly} -> {new_email}" in text


def test_a_new_hire_with_no_value_in_the_scope_field_is_told_so(sync_env: SyncEnv) -> None:
    """The usual surprise: HR has not filled the site in yet, so the include rule fails."""
    sync_env.write_config(extra=scoped(include="work.site: [London, Berlin]"))
    hire = sync_env.sandbox.company.add({"root.email": "no.site@acme.example", "work.site": None})
    code, text, document = explain(sync_env, hire)
    assert code == 0 and document["decision"]["outcome"] == "out of scope", text
    assert document["scope"]["rule"] == (
        "the rule include work.site: [London, Berlin] does not hold "
        "(they have no value in work.site)"
    )
    sync_env.sandbox.company.update(hire, {"work.site": "London"})
    _, text, document = explain(sync_env, hire)
    assert document["decision"]["outcome"] == "create", text


def test_a_leaver_already_deactivated_is_not_called_in_sync(sync_env: SyncEnv) -> None:
    sync_env.run()
    leaver = active_users(sync_env)[0]
    sync_env.sandbox.company.terminate(leaver)
    code, text, _ = explain(sync_env, leaver)
    assert "Tonight:   deactivate" in text
    sync_env.run()
    code, text, document = explain(sync_env, leaver)
    assert code == 0 and document["decision"]["outcome"] == "unchanged", text
    assert document["decision"]["reasons"] == [
        "a leaver: HiBob has them inactive and the HiThrive user is inactive already"
    ]
