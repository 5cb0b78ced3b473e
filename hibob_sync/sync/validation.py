"""One validation of the mapping, which every command runs: map, map validate, check, plan,
run and apply cannot disagree about whether a mapping is valid.

Three layers, each used wherever its input is at hand:
- against HiBob's field catalogue (``catalogue_findings``): a field that does not exist, or
  whose kind cannot fill its HiThrive field (a list into a date): 78;
- against the SCIM server's /Schemas (``server_findings``): a target attribute it does not
  announce, one whose type cannot hold the field, an extra attribute it cannot write: 78;
- against the values HiBob returns (``sample_findings``): a field whose values are mostly not
  of its kind (names in an email field): `check` fails it, a run stops before any write (65).
Scope checks join here when they land (one entry point: ``refuse``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from hibob_sync.config.mapping import FieldMapping
from hibob_sync.config.mapping_check import Problem, mapping_problems, sample_problems
from hibob_sync.config.settings import Settings
from hibob_sync.core.extra_profile import Kind
from hibob_sync.core.plan_file import PlanFile, check_applicable, mapping_digest
from hibob_sync.errors import ConfigError, SafeguardError
from hibob_sync.hibob.answers import HibobData
from hibob_sync.hibob.client import CatalogueField, HibobEmployee
from hibob_sync.scim.attributes import AttributePath
from hibob_sync.scim.discovery import ServerFeatures, missing_attributes
from hibob_sync.scim.values import type_problems
from hibob_sync.sync.extra_targets import extra_problems

MAP_HINT = "pick an existing field of the right kind with `hibob-sync map`"
EXTRA_HINT = (
    "name an attribute the server announces and can write (`hibob-sync map` lists them), "
    "or remove the entry from extra:"
)


@dataclass(frozen=True)
class Finding:
    """One thing wrong with the mapping, named by its key in the files."""

    key: str  # mapping.job_title, extra.timezone, hithrive.attributes.teams
    text: str
    hint: str = MAP_HINT

    @property
    def line(self) -> str:
        return f"{self.key}: {self.text}"


def catalogue_findings(
    mapping: FieldMapping, catalogue: Sequence[CatalogueField] | None
) -> list[Finding]:
    """Sources HiBob's catalogue does not have, or whose kind cannot fill their field."""
    if catalogue is None:
        return []
    return [Finding(p.key, p.text) for p in mapping_problems(mapping, catalogue)]


def server_findings(
    mapping: FieldMapping,
    features: ServerFeatures,
    where: dict[str, AttributePath],
    catalogue: Sequence[CatalogueField] | None = None,
) -> list[Finding]:
    """Targets the SCIM server does not announce or cannot write, fields and extras alike."""
    found = [
        Finding(
            f"mapping.{name}",
            f"the SCIM server's /Schemas has no attribute {path} (for {name})",
            f"set hithrive.attributes.{name} to an attribute the server has, or unmap the "
            "field with `hibob-sync map unset`",
        )
        for name, path in missing_attributes(features, where)
        if name in mapping.fields
    ]
    found += [
        Finding(
            f"mapping.{p.field}",
            f"the SCIM attribute {p.path} (for {p.field}) {p.reason}",
            f"set hithrive.attributes.{p.field} to an attribute that can hold it",
        )
        for p in type_problems(features, where, mapping.fields)
        if p.fatal
    ]
    found += [
        Finding(f"extra.{key}", text, EXTRA_HINT)
        for key, text in extra_problems(mapping, features, where, catalogue)
    ]
    return found


def refuse(findings: Sequence[Finding], where: str = "") -> None:
    """Stop (78) naming every finding; nothing is written."""
    if not findings:
        return
    prefix = f"{where}: " if where else ""
    raise ConfigError(
        "\n".join(prefix + finding.line for finding in findings), hint=findings[0].hint
    )


def kinds_of(mapping: FieldMapping, where: dict[str, AttributePath]) -> dict[str, Kind]:
    """The SCIM type of each extra attribute (known once the client has read /Schemas)."""
    kinds = {}
    for key in mapping.extra:
        path = where.get(key)
        if path is not None and path.scim_type:
            kinds[key] = Kind(path.scim_type, path.multi)
    return kinds


def sample_findings(
    mapping: FieldMapping, employees: Sequence[HibobEmployee], skip: set[str] | None = None
) -> tuple[list[Problem], list[str]]:
    """The values that came back, judged per field (mapping_check.sample_problems)."""
    values = {
        source: [e.values.get(source) for e in employees]
        for source in mapping.all_sources()
        if source not in (skip or set())
    }
    return sample_problems(mapping, values, {e.id for e in employees})


def stop_on_samples(mapping: FieldMapping, employees: Sequence[HibobEmployee]) -> None:
    """A field whose values are mostly not of its kind stops the run before any write (65)."""
    problems, _ = sample_findings(mapping, employees)
    if problems:
        raise SafeguardError(
            "; ".join(f"mapping.{p.text}" for p in problems)
            + "; syncing would set aside or blank most employees, so nothing was written",
            hint=f"map {problems[0].field} to a HiBob field of the right kind with "
            "`hibob-sync map`, then `hibob-sync check`",
        )


# -- the run's three steps (run.py) ----------------------------------------------------------


def reviewed_plan(
    plan_file: PlanFile, settings: Settings, mapping: FieldMapping, when: datetime
) -> SafeguardError | None:
    """`apply`: a plan refused before anything is read (65), or, where the mapping was edited
    since the plan, the refusal to raise once the mapping is validated (an invalid mapping
    is named as such: 78)."""
    try:
        check_applicable(plan_file, settings, mapping, when)
    except SafeguardError as exc:
        if plan_file.mapping == mapping_digest(mapping):
            raise
        return exc
    return None


def after_hibob(mapping: FieldMapping, fetched: HibobData, *, sample: bool = True) -> None:
    """The catalogue (78), then the values (65), before anything else is read.

    ``sample=False`` for `--only` and `explain`: a few named people are no sample of a field,
    and their own bad values are set aside and named as on any night."""
    refuse(catalogue_findings(mapping, fetched.catalogue), "mapping")
    if sample:
        stop_on_samples(mapping, fetched.employees)


def after_discovery(
    mapping: FieldMapping,
    features: ServerFeatures,
    where: dict[str, AttributePath],
    fetched: HibobData,
    stale: SafeguardError | None = None,
) -> dict[str, Kind]:
    """The SCIM server's /Schemas (78), then a reviewed plan's deferred refusal; the types
    of the extra attributes."""
    refuse(server_findings(mapping, features, where, fetched.catalogue))
    if stale is not None:
        raise stale
    return kinds_of(mapping, where)
