"""Extra attributes (mapping.yaml `extra:`) and value rules, through the CLI, against the
HiBob sandbox and scim2-server with the HiThrive-like schema (spec.md, mapping.yaml)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hibob_sync.config.mapping import validate
from hibob_sync.core.extra_profile import Kind
from hibob_sync.core.profiles import Profile, build_profile
from hibob_sync.kinds import as_kind, canonical
from hibob_sync.sandbox import FIELDS_PATH
from hibob_sync.sandbox.catalogue import MAPPING_YAML, catalogue_json
from hibob_sync.scim.attributes import extra_path
from tests.scim_fixtures import ScimServerFactory
from tests.sync_fixtures import SyncEnv
from tests.test_core_tables import employee
from tests.test_run import _active_employee, scim_writes

ZONES = "{from: work.site, values: {London: Europe/London, Berlin: Europe/Berlin}, default: UTC}"
COUNTRY = "'addresses[type eq \"work\"].country': {from: work.site, values: {London: GB}}"
EXTRA = f"extra:\n  timezone: {ZONES}\n  userType: work.department\n  {COUNTRY}\n"
ZONE_OF = {"London": "Europe/London", "Berlin": "Europe/Berlin"}


def write_mapping(env: SyncEnv, text: str) -> None:
    (env.folder / "mapping.yaml").write_text(text, encoding="utf-8")


def by_employee(env: SyncEnv) -> dict[str, dict[str, Any]]:
    return env.users_by_external_id()


def site_of(env: SyncEnv, employee_id: str) -> str:
    return str(env.sandbox.company.display(employee_id, "work.site"))


def work_country(user: dict[str, Any]) -> str | None:
    for item in user.get("addresses") or []:
        if item.get("type") == "work":
            return item.get("country")  # type: ignore[no-any-return]
    return None


def test_timezone_user_type_and_country_are_written_then_quiet(sync_env: SyncEnv) -> None:
    write_mapping(sync_env, MAPPING_YAML + EXTRA)
    first = sync_env.run()
    assert first.exit_code in (0, 1), first.output
    users = by_employee(sync_env)
    assert users
    for employee_id, user in users.items():
        site = site_of(sync_env, employee_id)
        assert user.get("timezone") == ZONE_OF.get(site, "UTC"), (site, user.get("timezone"))
        department = sync_env.sandbox.company.display(employee_id, "work.department")
        assert user.get("userType") == department
        assert work_country(user) == ("GB" if site == "London" else site)

    sync_env.scim.reset_counts()
    second = sync_env.run()
    assert second.exit_code == 0, second.output
    assert scim_writes(sync_env) == []

    # One site moves: only that attribute is written, with a PATCH that names it.
    employee_id = _active_employee(sync_env)
    old = site_of(sync_env, employee_id)
    new = "Berlin" if old != "Berlin" else "London"
    sync_env.sandbox.company.update(employee_id, {"work.site": new})
    sync_env.scim.reset_counts()
    third = sync_env.run()
    assert third.exit_code == 0, third.output
    user = by_employee(sync_env)[employee_id]
    assert user["timezone"] == ZONE_OF[new]
    assert work_country(user) == ("GB" if new == "London" else new)
    assert [m for m, _ in scim_writes(sync_env)] == ["PATCH"]


@pytest.mark.parametrize("config", ["hithrive", "nopatch", "default"])  # PATCH, PUT, /Bulk
def test_a_filtered_item_keeps_the_other_items(
    sync_env: SyncEnv, scim_server_factory: ScimServerFactory, config: str
) -> None:
    sync_env.scim = scim_server_factory(config=config)
    sync_env.write_config()
    write_mapping(sync_env, MAPPING_YAML + f"extra:\n  {COUNTRY}\n  timezone: {ZONES}\n")
    assert sync_env.run().exit_code in (0, 1)
    employee_id = _active_employee(sync_env)
    user = by_employee(sync_env)[employee_id]
    home = {"type": "home", "country": "FR", "locality": "Paris"}
    sync_env.scim.edit(user["id"], "addresses", [*user["addresses"], home])
    sync_env.sandbox.company.update(employee_id, {"work.site": "London"})
    sync_env.scim.reset_counts()
    assert sync_env.run().exit_code == 0
    after = by_employee(sync_env)[employee_id]["addresses"]
    assert {"type": "home", "country": "FR", "locality": "Paris"} in after
    assert work_country(by_employee(sync_env)[employee_id]) == "GB"
    sync_env.scim.reset_counts()
    assert sync_env.run().exit_code == 0 and scim_writes(sync_env) == []


def test_a_value_rule_on_teams(sync_env: SyncEnv) -> None:
    mapping = MAPPING_YAML.replace(
        "  teams: [work.department, work.custom.field_1700000000001]\n",
        "  teams: {from: work.department, values: {Engineering: R&D Engineering}}\n",
    )
    assert mapping != MAPPING_YAML
    write_mapping(sync_env, mapping)
    assert sync_env.run().exit_code in (0, 1)
    hithrive = "urn:ietf:params:scim:schemas:extension:hithrive:2.0:User"
    teams = {
        employee_id: user.get(hithrive, {}).get("teams")
        for employee_id, user in by_employee(sync_env).items()
    }
    company = sync_env.sandbox.company
    engineers = [i for i in teams if company.display(i, "work.department") == "Engineering"]
    assert engineers and all(teams[i] == ["R&D Engineering"] for i in engineers)
    assert "Engineering" not in {t for team in teams.values() for t in team or []}
    sync_env.scim.reset_counts()
    assert sync_env.run().exit_code == 0 and scim_writes(sync_env) == []


def asked_of_hibob(env: SyncEnv) -> set[str]:
    return {field for body in env.sandbox.search_bodies for field in body["fields"]}


def test_extra_unset_requests_and_writes_nothing_new(sync_env: SyncEnv) -> None:
    assert sync_env.run().exit_code in (0, 1)
    assert "root.displayName" not in asked_of_hibob(sync_env)
    for user in sync_env.users():
        assert not {"nickName", "timezone", "userType", "addresses"} & set(user)

    sync_env.sandbox.reset_records()
    write_mapping(sync_env, MAPPING_YAML + "extra:\n  nickName: root.displayName\n")
    # A new attribute filled for everyone is a mass change: reviewed, then applied.
    assert sync_env.run().exit_code == 65
    plan = sync_env.folder / "plan.json"
    assert sync_env.cli("plan", "-o", str(plan)).exit_code == 65
    applied = sync_env.cli("apply", str(plan))
    assert applied.exit_code == 0, applied.output
    assert "root.displayName" in asked_of_hibob(sync_env)
    assert all(user.get("nickName") for user in sync_env.users() if user.get("externalId"))


@pytest.mark.parametrize("command", [("run",), ("plan",), ("check",), ("map", "validate")])
def test_an_unannounced_attribute_is_refused_with_the_nearest_names(
    sync_env: SyncEnv, command: tuple[str, ...]
) -> None:
    write_mapping(sync_env, MAPPING_YAML + "extra:\n  timezon: work.site\n")
    result = sync_env.cli(*command)
    assert result.exit_code == 78, result.output
    assert "extra.timezon: the SCIM server does not announce timezone" not in result.output
    assert "extra.timezon: the SCIM server does not announce timezon; nearest: timezone" in (
        " ".join(result.output.split())
    )
    assert scim_writes(sync_env) == []


def test_a_read_only_attribute_is_refused(sync_env: SyncEnv) -> None:
    manager = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName"
    write_mapping(
        sync_env,
        MAPPING_YAML.replace("  manager_email: work.reportsTo.email\n", "")
        + f"extra:\n  {manager}: root.displayName\n",
    )
    for command in (("run",), ("check",), ("map", "validate")):
        result = sync_env.cli(*command)
        assert result.exit_code == 78, result.output
        assert f"extra.{manager}: is readOnly on this server" in result.output
    assert scim_writes(sync_env) == []


def test_a_date_into_a_boolean_is_refused(
    sync_env: SyncEnv, scim_server_factory: ScimServerFactory
) -> None:
    sync_env.scim = scim_server_factory(schemas="extras")
    sync_env.write_config()
    hithrive = "urn:ietf:params:scim:schemas:extension:hithrive:2.0:User"
    write_mapping(sync_env, MAPPING_YAML + f"extra:\n  {hithrive}:remote: work.startDate\n")
    result = sync_env.cli("run")
    assert result.exit_code == 78, result.output
    assert "work.startDate is a date field, which a boolean attribute cannot hold" in result.output


def test_a_date_time_attribute_is_written_and_quiet_next_night(
    sync_env: SyncEnv, scim_server_factory: ScimServerFactory
) -> None:
    sync_env.scim = scim_server_factory(schemas="extras")
    sync_env.write_config()
    hithrive = "urn:ietf:params:scim:schemas:extension:hithrive:2.0:User"
    remote = "{from: work.site, values: {Remote - UK: true, Remote - US: yes}, default: false}"
    write_mapping(
        sync_env,
        MAPPING_YAML
        + f"extra:\n  {hithrive}:hireDate: work.startDate\n  {hithrive}:remote: {remote}\n",
    )
    first = sync_env.run()
    assert first.exit_code in (0, 1), first.output
    for employee_id, user in by_employee(sync_env).items():
        start = sync_env.sandbox.company.get(employee_id)["work.startDate"]
        assert str(user[hithrive]["hireDate"]).startswith(f"{start}T00:00:00")
        assert user[hithrive]["remote"] is site_of(sync_env, employee_id).startswith("Remote")
    sync_env.scim.reset_counts()
    second = sync_env.run()
    assert second.exit_code == 0, second.output
    assert scim_writes(sync_env) == []


def test_map_show_and_a_rewrite_keep_the_long_forms(sync_env: SyncEnv) -> None:
    write_mapping(sync_env, MAPPING_YAML + EXTRA)
    shown = sync_env.cli("map", "show")
    assert (
        "timezone <- work.site  (London -> Europe/London; Berlin -> Europe/Berlin; default UTC)"
        in shown.stdout
    )
    assert sync_env.cli("map", "set", "job_title", "work.department").exit_code == 0
    again = sync_env.cli("map", "show")
    assert again.stdout.replace("work.department", "work.title", 1).count(
        "\n"
    ) == shown.stdout.count("\n")
    text = (sync_env.folder / "mapping.yaml").read_text()
    assert "timezone:" in text and "Europe/Berlin" in text and "default: UTC" in text
    assert json.dumps("x")  # the file still loads:
    assert sync_env.cli("map", "validate").exit_code == 0


def test_map_lists_the_announced_attributes_and_adds_one(sync_env: SyncEnv) -> None:
    answers = [""] * 8 + ["?", "timezon", "work.site", "timezone", "Site", "", "y"]
    result = sync_env.cli("map", input="\n".join(answers) + "\n", terminal=True)
    assert result.exit_code == 0, result.output
    listed = result.stdout
    assert "  timezone\n" in listed and '  addresses[type eq "work"].country\n' in listed
    assert "  userName\n" not in listed and "manager.displayName" not in listed  # not writable
    assert "extra.timezon: the SCIM server does not announce timezon; nearest: timezone" in (listed)
    text = (sync_env.folder / "mapping.yaml").read_text()
    assert "extra:\n  timezone: work.site\n" in text
    shown = sync_env.cli("map", "show").stdout
    assert "extra attributes:\n  timezone <- work.site" in shown


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "extra:\n  title: {from: work.title, value: {a: b}}\n",
            "extra.title: unknown key 'value'",
        ),
        ("extra:\n  job_title: work.title\n", "job_title is a HiThrive field; map it under"),
        ("extra:\n  'addresses[country eq \"GB\"].locality': work.site\n", "[type eq"),
        ("extra:\n  emails: root.email\n", "emails is managed by hibob-sync itself"),
        ("extra:\n  userType: {values: {A: B}}\n", "the long form needs `from:"),
        ("extra:\n  userType: {from: work.site, default: [a]}\n", "expected a single value"),
    ],
)
def test_a_malformed_extra_entry_is_refused_by_name(
    sync_env: SyncEnv, text: str, says: str
) -> None:
    write_mapping(sync_env, MAPPING_YAML + text)
    for command in (("map", "validate"), ("run",)):
        result = sync_env.cli(*command)
        assert result.exit_code == 78, result.output
        assert says in result.stderr and "Traceback" not in result.output


def readme_example() -> str:
    """The `extra:` block of README's worked HiThrive example, as printed there."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    start = readme.index("**A worked example for HiThrive**")
    block = readme[readme.index("```yaml\n", start) + 8 : readme.index("```\n", start + 40)]
    return block[block.index("extra:") :]


def test_the_readme_example_runs_end_to_end(sync_env: SyncEnv) -> None:
    write_mapping(sync_env, MAPPING_YAML + readme_example())
    check = sync_env.cli("check")
    assert check.exit_code == 0, check.output
    assert sync_env.run().exit_code in (0, 1)
    company = sync_env.sandbox.company
    codes = {"United Kingdom": "GB", "Germany": "DE", "United States": "US", "Israel": "IL"}
    codes |= {"Netherlands": "NL"}
    for employee_id, user in by_employee(sync_env).items():
        country = str(company.display(employee_id, "address.country"))
        assert work_country(user) == codes.get(country, country)
        assert user["userType"] == company.display(employee_id, "payroll.employment.type")
        zone = {"London": "Europe/London", "Berlin": "Europe/Berlin"}
        zone |= {"New York": "America/New_York"}
        assert user["timezone"] == zone.get(site_of(sync_env, employee_id), "UTC")
    sync_env.scim.reset_counts()
    assert sync_env.run().exit_code == 0 and scim_writes(sync_env) == []

    # check catches each mistake by name, before anything is written
    for wrong, right, says in (
        ("  timezone:", "  timezon:", "extra.timezon: the SCIM server does not announce timezon"),
        (
            "'addresses[type eq \"work\"].country'",
            "addresses.country",
            'addresses is multi-valued: say which item, e.g. addresses[type eq "work"].country',
        ),
    ):
        write_mapping(sync_env, MAPPING_YAML + readme_example().replace(wrong, right, 1))
        result = sync_env.cli("check")
        assert result.exit_code == 78, result.output
        assert says in " ".join(result.stdout.split())


# -- value rules and types, one employee at a time (no servers) ---------------------------------

RULE = {"from": "x.site", "values": {"London": "Europe/London", "r&d": "Engineering"}}


@pytest.mark.parametrize(
    ("rule", "raw", "value"),
    [
        (RULE, "London", "Europe/London"),
        (RULE, "R&D", "Engineering"),  # display values match ignoring case
        (RULE, "Paris", "Paris"),  # unmatched: passes through
        ({**RULE, "default": "UTC"}, "Paris", "UTC"),  # unless there is a default
        ({**RULE, "default": "UTC"}, None, "UTC"),  # no value in HiBob
        ({"from": "x.site", "default": "UTC"}, "  ", "UTC"),
        ({"from": "x.site", "default": "UTC"}, "Paris", "Paris"),
    ],
)
def test_value_rules_on_a_mapped_field(rule: dict[str, Any], raw: object, value: str) -> None:
    mapping = validate({"email": "root.email", "job_title": rule}, "test")
    outcome = build_profile(employee(**{"x.site": raw}), mapping)
    assert isinstance(outcome, Profile) and outcome.values["job_title"] == value


@pytest.mark.parametrize(
    ("kind", "entry", "raw", "value", "kept"),
    [
        (
            Kind("boolean"),
            {"from": "x.f", "values": {"Remote": True}, "default": False},
            "Remote",
            "true",
            False,
        ),
        (
            Kind("boolean"),
            {"from": "x.f", "values": {"Remote": True}, "default": False},
            "Office",
            "false",
            False,
        ),
        (Kind("boolean"), "x.f", "maybe", None, True),  # left as it is, with a warning
        (Kind("integer"), "x.f", 7, "7", False),
        (Kind("decimal"), "x.f", "2.50", "2.5", False),
        (Kind("datetime"), "x.f", "2024-01-15", "2024-01-15", False),
        (Kind("datetime"), "x.f", "15/01/2024", None, True),
        (Kind("string", multi=True), ["x.f", "x.g"], "B", ("A", "B"), False),
        (Kind("string"), ["x.f", "x.g"], None, "A", False),  # the first non-empty value
    ],
)
def test_an_extra_value_in_the_type_the_server_declares(
    kind: Kind, entry: object, raw: object, value: object, kept: bool
) -> None:
    mapping = validate({"email": "root.email"}, "test", {"custom": entry})
    outcome = build_profile(employee(**{"x.f": raw, "x.g": "A"}), mapping, kinds={"custom": kind})
    assert isinstance(outcome, Profile)
    assert outcome.values.get("custom") == value
    assert ("custom" in outcome.keep) is kept
    assert all("maybe" not in note and "15/01" not in note for note in outcome.notes)


def test_paths_an_extra_may_name() -> None:
    path = extra_path('addresses[type eq "work"].country')
    assert (path.name, path.type_filter, path.sub) == ("addresses", "work", "country")
    assert path.label == 'addresses[type eq "work"].country' and path.parent is None
    enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    assert extra_path(f"{enterprise}:costCenter").patch_path == f"{enterprise}:costCenter"
    assert extra_path("name.middleName").parent == extra_path("name")
    for wrong in ('addresses[value eq "x"].country', "addresses[type eq work].country", "id"):
        with pytest.raises(ValueError):
            extra_path(wrong)


def test_map_extra_adds_checks_and_removes_an_attribute(sync_env: SyncEnv) -> None:
    path = sync_env.folder / "mapping.yaml"
    before = path.read_text()
    wrong = sync_env.cli("map", "extra", "timezon", "work.site")
    assert wrong.exit_code == 78, wrong.output
    assert "extra.timezon: the SCIM server does not announce timezon; nearest: timezone" in (
        " ".join(wrong.stderr.split())
    )
    assert path.read_text() == before
    assert sync_env.cli("map", "extra", "userType", "work.titel").exit_code == 78

    added = sync_env.cli("map", "extra", 'addresses[type eq "work"].country', "address.country")
    assert added.exit_code == 0, added.output
    assert sync_env.cli("map", "validate").exit_code == 0
    assert "'addresses[type eq \"work\"].country': address.country" in path.read_text()

    removed = sync_env.cli("map", "extra", 'addresses[type eq "work"].country')
    assert removed.exit_code == 0 and "extra" not in path.read_text().split("mapping:")[1]


def test_date_times_read_back_in_any_spelling_compare_equal() -> None:
    assert canonical("2024-01-15T08:00:00+02:00", "dateTime") == "2024-01-15T06:00:00Z"
    assert canonical("2024-01-15T06:00:00.000Z", "dateTime") == "2024-01-15T06:00:00Z"
    assert canonical("2024-01-15T00:00:00+00:00", "dateTime") == "2024-01-15"
    assert canonical("2024-01-15T00:00:00Z", "string") == "2024-01-15T00:00:00Z"  # text as is
    assert as_kind("2024-01-15T08:00:00+02:00", "dateTime") == ("2024-01-15T06:00:00Z", None)
    assert canonical([True, 3.0, {"value": "x"}]) == ("3", "true", "x")


@pytest.mark.parametrize(
    ("entry", "refused"),
    [
        ("work.department", True),  # several values into one string, no rule: refused
        ("{from: work.department, values: {Engineering: Tech}}", False),
    ],
)
def test_a_multi_valued_field_into_a_single_string_needs_a_rule(
    sync_env: SyncEnv, entry: str, refused: bool
) -> None:
    multi = [
        dict(e, type="multi-list") if e["id"] == "work.department" else e for e in catalogue_json()
    ]
    write_mapping(sync_env, MAPPING_YAML + f"extra:\n  userType: {entry}\n")
    sync_env.sandbox.answer_next(200, multi, path=FIELDS_PATH)
    result = sync_env.cli("plan")
    says = "extra.userType: work.department holds several values, and the attribute holds one"
    assert (says in result.output) is refused, result.output
    assert (result.exit_code == 78) is refused


def test_explain_shows_the_extra_attributes_and_agrees_with_the_run(sync_env: SyncEnv) -> None:
    """explain reads and plans the extra attributes as `run` does: in sync after the run, and
    a moved site is one timezone change, not every extra attribute from empty each time."""
    write_mapping(sync_env, MAPPING_YAML + EXTRA)
    assert sync_env.run().exit_code in (0, 1)
    employee_id = _active_employee(sync_env)
    site = site_of(sync_env, employee_id)
    result = sync_env.cli("explain", employee_id, "--json")
    document = json.loads(result.stdout)
    assert document["decision"]["outcome"] == "unchanged", result.output
    zone = ZONE_OF.get(site, "UTC")
    assert document["hithrive"]["values"]["timezone"] == zone
    assert document["hibob"]["values"]["timezone"] == zone
    country = 'addresses[type eq "work"].country'
    assert document["hithrive"]["values"][country] == ("GB" if site == "London" else site)

    new = "Berlin" if site != "Berlin" else "London"
    sync_env.sandbox.company.update(employee_id, {"work.site": new})
    text = sync_env.cli("explain", employee_id).stdout
    assert f"  timezone{' ' * 26}{zone} -> {ZONE_OF[new]}" in text, text
    assert "Tonight:   update" in text and "userType" not in text.split("Tonight:")[1]


def test_the_map_editor_keeps_value_rules_when_a_source_changes(sync_env: SyncEnv) -> None:
    write_mapping(sync_env, MAPPING_YAML + f"extra:\n  timezone: {ZONES}\n")
    answers = [""] * 8 + ["-timezon", "timezone", "work.department", "", "y"]
    result = sync_env.cli("map", input="\n".join(answers) + "\n", terminal=True)
    assert result.exit_code == 0, result.output
    # The listing shows the rules; a typo in a removal is said, not silently ignored.
    assert "  timezone <- work.site  (London -> Europe/London; Berlin -> Europe/Berlin;" in (
        result.stdout
    )
    assert "no extra attribute 'timezon' to remove (mapped: timezone)" in result.stdout
    shown = sync_env.cli("map", "show").stdout
    assert "  timezone <- work.department  (London -> Europe/London" in shown, shown
    assert "default UTC" in shown


def test_map_extra_without_sources_names_a_typo_instead_of_saying_done(
    sync_env: SyncEnv,
) -> None:
    write_mapping(sync_env, MAPPING_YAML + f"extra:\n  timezone: {ZONES}\n")
    before = (sync_env.folder / "mapping.yaml").read_bytes()
    typo = sync_env.cli("map", "extra", "timezon")
    assert typo.exit_code == 0, typo.output
    assert "timezon is not an extra attribute of" in typo.stdout
    assert "(mapped: timezone); nothing changed" in typo.stdout
    assert (sync_env.folder / "mapping.yaml").read_bytes() == before
    done = sync_env.cli("map", "extra", "timezone")
    assert done.exit_code == 0 and "timezone is no longer written" in done.stdout
    assert "extra" not in (sync_env.folder / "mapping.yaml").read_text()
