"""`hibob-sync scope`: rules set from the catalogue, config.yaml rewritten safely."""

from __future__ import annotations

import stat

from hibob_sync.config.scope import Scope
from hibob_sync.config.scope_file import render, replaced
from tests.sync_fixtures import SyncEnv
from tests.test_run import expected_users
from tests.test_scope import site_of


def test_include_by_field_name_writes_only_the_scope_block(sync_env: SyncEnv) -> None:
    sync_env.write_config(extra="# who: decided with HR on 3 May\n")
    sync_env.config.chmod(0o600)
    before = sync_env.config.read_text(encoding="utf-8")
    expected = expected_users(sync_env)
    site = site_of(sync_env, sorted(expected)[0])

    result = sync_env.cli("scope", "include", "Site", site)
    assert result.exit_code == 0, result.output
    text = sync_env.config.read_text(encoding="utf-8")
    assert text.startswith(before)  # everything else kept, comments included
    assert f"    work.site: [{site}]" in text
    assert stat.S_IMODE(sync_env.config.stat().st_mode) == 0o600
    assert sorted(p.name for p in sync_env.folder.iterdir()) == ["config.yaml", "mapping.yaml"]

    assert sync_env.run().exit_code in (0, 1)
    assert set(sync_env.users_by_external_id()) == {
        i for i in expected if site_of(sync_env, i) == site
    }
    shown = sync_env.cli("scope")
    assert f"include  work.site: {site}" in shown.stdout


def test_exclude_root_id_remove_and_policy(sync_env: SyncEnv) -> None:
    assert sync_env.cli("scope", "exclude", "root.id", "3300000000000000012").exit_code == 0
    assert sync_env.cli("scope", "out-of-scope", "ignore").exit_code == 0
    text = sync_env.config.read_text(encoding="utf-8")
    assert "root.id: ['3300000000000000012']" in text and "out_of_scope: ignore" in text
    assert sync_env.cli("scope", "out-of-scope", "deactivate").exit_code == 0
    assert sync_env.cli("scope", "remove", "root.id").exit_code == 0
    assert "scope:" not in sync_env.config.read_text(encoding="utf-8")


def test_a_field_the_catalogue_lacks_is_refused_with_the_closest(sync_env: SyncEnv) -> None:
    before = sync_env.config.read_bytes()
    result = sync_env.cli("scope", "exclude", "work.sitee", "London")
    assert result.exit_code == 78 and "did you mean work.site" in result.stderr
    assert sync_env.config.read_bytes() == before


def test_values_lists_what_hibob_holds(sync_env: SyncEnv) -> None:
    company = sync_env.sandbox.company
    sites = [str(company.display(i, "work.site")) for i in company.ids()]
    result = sync_env.cli("scope", "values", "work.site")
    assert result.exit_code == 0
    top = max(set(sites), key=sites.count)
    assert f"{sites.count(top):>6}  {top}" in result.stdout


def test_replacing_a_block_keeps_the_keys_and_comments_around_it() -> None:
    text = "hibob: {}\nscope:\n  include:\n    a.b: [x]\n\n# notes on sync\nsync:\n  x: 1\n"
    out = replaced(text, render(Scope(exclude={"c.d": ("y",)})))
    assert out.startswith("hibob: {}\nscope:")
    assert out.endswith(
        "  exclude:\n    c.d: [y]\n  out_of_scope: deactivate\n\n# notes on sync\nsync:\n  x: 1\n"
    )
    assert replaced(text, "") == "hibob: {}\n\n# notes on sync\nsync:\n  x: 1\n"


def test_a_mistyped_field_id_is_refused_never_taken_as_the_closest(sync_env: SyncEnv) -> None:
    """`address.countr` is part of one field's ID: a rule or a count of the wrong field would
    silently change who is synced, so it is refused with the closest, as config.yaml's is."""
    before = sync_env.config.read_bytes()
    for args in (("values", "work.sit"), ("include", "work.sit", "London"), ("values", "sit")):
        result = sync_env.cli("scope", *args)
        assert result.exit_code == 78, result.output
        assert f"scope: HiBob has no field {args[1]}; did you mean work.site (Site)?" in (
            result.stderr
        )
        assert result.stdout == ""
    assert sync_env.config.read_bytes() == before
    by_name = sync_env.cli("scope", "values", "site")  # a field's exact name is an answer
    assert (
        by_name.exit_code == 0
        and by_name.stdout == sync_env.cli("scope", "values", "work.site").stdout
    )


def test_a_value_nobody_holds_is_saved_with_a_warning_and_the_closest(
    sync_env: SyncEnv,
) -> None:
    company = sync_env.sandbox.company
    site = str(company.display(company.ids()[0], "work.site"))
    typo = site[:-1] + site[-1] * 2  # "Berlinn"
    result = sync_env.cli("scope", "exclude", "work.site", "Contractors", typo)
    assert result.exit_code == 0, result.output
    assert f"    work.site: [Contractors, {typo}]" in sync_env.config.read_text(encoding="utf-8")
    assert "no employee holds 'Contractors' in work.site today (" in result.stderr
    assert f"no employee holds '{typo}' in work.site today; did you mean '{site}'?" in (
        result.stderr
    )
    quiet = sync_env.cli("scope", "include", "work.site", site.upper())  # case does not matter
    assert quiet.exit_code == 0 and "no employee holds" not in quiet.stderr, quiet.output


def test_fields_says_when_nothing_matches_and_offers_the_closest(sync_env: SyncEnv) -> None:
    result = sync_env.cli("scope", "fields", "sitte")
    assert result.exit_code == 0, result.output
    assert "No HiBob field's ID, name or category holds 'sitte'; did you mean work.site" in (
        result.stdout
    )
    listed = sync_env.cli("scope", "fields", "site").stdout
    assert "Site (work.site, category Work)" in listed and "No HiBob field" not in listed
