"""The field mapping: which HiBob field(s) feed each HiThrive field, and each extra attribute.

Loaded from and written to mapping.yaml. Email must be mapped; under ``mapping:`` only the
HiThrive fields are allowed; under ``extra:`` any SCIM attribute path (checked against the
server's /Schemas by mapping_targets.py). Sources are HiBob field IDs (``root.email``,
``work.custom.field_1700000000000``) or lists of them, in the short form or the long one with
value rules (entries.py). Writes go through admin_files: atomic, and the file keeps its
owner, group and mode.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from hibob_sync.config.admin_files import write_admin_file
from hibob_sync.config.entries import NO_RULE, ValueRule, entry_yaml, parse_entry
from hibob_sync.config.mapping_file import edited
from hibob_sync.config.settings import load_yaml
from hibob_sync.errors import ConfigError
from hibob_sync.model import ALL_FIELDS
from hibob_sync.scim.attributes import extra_path

DEFAULT_SOURCES: dict[str, tuple[str, ...]] = {
    "email": ("root.email",),
    "employee_id": ("work.employeeIdInCompany",),
    "job_title": ("work.title",),
    "start_date": ("work.startDate",),
    "birthday": ("personal.birthDate",),
    "teams": ("work.department",),
    "groups": ("work.site",),
    "manager_email": ("work.reportsTo.email",),
}

FIELD_HELP: dict[str, str] = {
    "email": "work email; identifies the user (required)",
    "employee_id": "the company's employee number",
    "job_title": "job title",
    "start_date": "start date (YYYY-MM-DD)",
    "birthday": "date of birth",
    "teams": "teams (multi-valued)",
    "groups": "groups (multi-valued)",
    "manager_email": "the manager's email (reports-to)",
    "first_name": "first name (optional: for SCIM apps that require name.givenName)",
    "last_name": "last name (optional: for SCIM apps that require name.familyName)",
    "display_name": "display name (optional: for SCIM apps that require displayName)",
}


@dataclass(frozen=True)
class FieldMapping:
    """HiThrive field -> HiBob source field IDs, in the order given; extra SCIM attribute ->
    its sources; and the value rules of any entry (by field name or extra attribute)."""

    sources: Mapping[str, tuple[str, ...]]
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    rules: Mapping[str, ValueRule] = field(default_factory=dict)

    def __iter__(self) -> Iterator[str]:
        return iter(name for name in ALL_FIELDS if name in self.sources)

    @property
    def fields(self) -> tuple[str, ...]:
        """The mapped HiThrive fields, in canonical order."""
        return tuple(self)

    @property
    def targets(self) -> tuple[str, ...]:
        """Everything written: the mapped fields, then the extra attributes."""
        return (*self.fields, *self.extra)

    def entries(self) -> Iterator[tuple[str, tuple[str, ...]]]:
        """(field or extra attribute, sources) for everything the mapping writes."""
        yield from ((name, self.sources[name]) for name in self)
        yield from self.extra.items()

    def rule(self, name: str) -> ValueRule:
        return self.rules.get(name, NO_RULE)

    def all_sources(self) -> tuple[str, ...]:
        """Every HiBob field ID the mapping reads, de-duplicated, in order."""
        seen: dict[str, None] = {}
        for _, sources in self.entries():
            for source in sources:
                seen.setdefault(source, None)
        return tuple(seen)

    def fields_of(self, source: str) -> str:
        """The fields (and extra attributes) a HiBob source feeds, as `a/b`: messages name
        both sides."""
        return "/".join(name for name, sources in self.entries() if source in sources)

    def with_field(self, name: str, sources: Sequence[str]) -> FieldMapping:
        """A copy with one field (re)mapped, its value rules kept; validated."""
        if name not in ALL_FIELDS:
            raise ConfigError(_unknown_field(name, "map set"))
        updated = dict(self.sources)
        updated[name] = tuple(sources)
        return replace(self, sources=validate(updated, "map set").sources)

    def without_field(self, name: str) -> FieldMapping:
        """A copy with one field unmapped; validated (email cannot be removed)."""
        if name not in ALL_FIELDS:
            raise ConfigError(_unknown_field(name, "map unset"))
        updated = {k: v for k, v in self.sources.items() if k != name}
        rules = {k: v for k, v in self.rules.items() if k != name}
        return replace(self, sources=validate(updated, "map unset").sources, rules=rules)

    def with_extra(
        self, attribute: str, sources: Sequence[str], rule: ValueRule = NO_RULE
    ) -> FieldMapping:
        """A copy with one extra attribute (re)mapped; checked as a file's would be."""
        extra = {**self.extra, attribute.strip(): tuple(sources)}
        checked, _ = _extras(extra, "map")
        rules = {k: v for k, v in self.rules.items() if k != attribute.strip()}
        if rule:
            rules[attribute.strip()] = rule
        return replace(self, extra=checked, rules=rules)

    def without_extra(self, attribute: str) -> FieldMapping:
        """A copy without one extra attribute."""
        return replace(
            self,
            extra={k: v for k, v in self.extra.items() if k != attribute},
            rules={k: v for k, v in self.rules.items() if k != attribute},
        )


def default_mapping() -> FieldMapping:
    """The mapping used when there is no mapping file yet (the spec's example)."""
    return FieldMapping(dict(DEFAULT_SOURCES))


def _unknown_field(name: str, where: str) -> str:
    return f"{where}: unknown HiThrive field {name!r}; expected one of: {', '.join(ALL_FIELDS)}"


def _extras(raw: object, where: str) -> tuple[dict[str, tuple[str, ...]], dict[str, ValueRule]]:
    """The `extra:` section: SCIM attribute path -> sources (and rules)."""
    if raw is None:
        return {}, {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{where}: extra: expected a map of SCIM attribute to HiBob field ID, "
            f"got {type(raw).__name__}"
        )
    sources: dict[str, tuple[str, ...]] = {}
    rules: dict[str, ValueRule] = {}
    labels: dict[str, str] = {}
    for key, value in raw.items():
        name = str(key).strip()
        if name in ALL_FIELDS:
            raise ConfigError(
                f"{where}: extra.{name}: {name} is a HiThrive field; map it under `mapping:`"
            )
        try:
            path = extra_path(name)
        except ValueError as exc:
            raise ConfigError(f"{where}: extra.{name}: {exc}") from None
        other = labels.setdefault(path.label.lower(), name)
        if other != name:
            raise ConfigError(f"{where}: extra.{name}: the same attribute as extra.{other}")
        if value is None:
            continue
        sources[name], rule = parse_entry(f"extra.{name}", value, where)
        if rule:
            rules[name] = rule
    return sources, rules


def validate(raw: object, where: str, extra: object = None) -> FieldMapping:
    """Check a ``{field: entry}`` dict (and an ``extra:`` one); raise ConfigError naming
    the field."""
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{where}: mapping: expected a mapping of HiThrive field to HiBob field ID, "
            f"got {type(raw).__name__}"
        )
    sources: dict[str, tuple[str, ...]] = {}
    rules: dict[str, ValueRule] = {}
    for name, value in raw.items():
        if name not in ALL_FIELDS:
            raise ConfigError(_unknown_field(str(name), f"{where}: mapping"))
        if value is None:
            continue
        if isinstance(value, tuple):  # the editor's answers
            value = list(value)
        sources[name], rule = parse_entry(f"mapping.{name}", value, where)
        if rule:
            rules[name] = rule
    if "email" not in sources:
        raise ConfigError(
            f"{where}: mapping.email: email must be mapped (it identifies each user), "
            "e.g. email: root.email"
        )
    extra_sources, extra_rules = _extras(extra, where)
    return FieldMapping(sources, extra_sources, {**rules, **extra_rules})


def load_mapping(path: Path, *, default_if_missing: bool = True) -> FieldMapping:
    """Load mapping.yaml; without a file, the default mapping (if allowed)."""
    if not path.exists() and default_if_missing:
        return default_mapping()
    data = load_yaml(path, "mapping file")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping with a top-level 'mapping:' key, "
            f"got {'an empty file' if data is None else type(data).__name__}"
        )
    unknown = [str(k) for k in data if k not in ("mapping", "extra")]
    if unknown:
        raise ConfigError(
            f"{path}: unknown key {unknown[0]} (only 'mapping' and 'extra' are allowed)"
        )
    if "mapping" not in data:
        raise ConfigError(f"{path}: missing the top-level 'mapping:' key")
    return validate(data["mapping"], str(path), data.get("extra"))


def _line(key: str, value: object) -> str:
    text = yaml.safe_dump({key: value}, default_flow_style=True, width=10_000, sort_keys=False)
    return "  " + text.strip()[1:-1].strip()


def render(mapping: FieldMapping) -> str:
    """The YAML text of a mapping file, fields in canonical order, then the extras."""
    lines = [
        "# hibob-sync field mapping: HiThrive field -> HiBob field ID, or a list of them.",
        "# Long form: {from: FIELD, values: {HiBob value: written value}, default: VALUE}.",
        "# Edit by hand or with `hibob-sync map`. Email is required.",
        "mapping:",
    ]
    for name in mapping:
        lines.append(_line(name, entry_yaml(mapping.sources[name], mapping.rule(name))))
    if mapping.extra:
        lines += [
            "# Other SCIM attributes the server announces (checked by `hibob-sync check`)",
            "extra:",
        ]
        for key, sources in mapping.extra.items():
            lines.append(_line(key, entry_yaml(sources, mapping.rule(key))))
    return "\n".join(lines) + "\n"


def save_mapping(path: Path, mapping: FieldMapping) -> None:
    """Write mapping.yaml atomically, keeping its owner, group and mode (admin_files), and a
    hand-edited file's comments where only some fields changed (mapping_file.edited)."""
    text = render(mapping)
    if path.is_file():
        try:
            before = path.read_text(encoding="utf-8")
            old = load_mapping(path, default_if_missing=False)
        except (OSError, UnicodeDecodeError, ConfigError):
            pass
        else:  # a line edit only where no long form or extra is involved
            if not (old.rules or mapping.rules or old.extra != mapping.extra):
                text = edited(before, old.sources, mapping.sources) or text
    write_admin_file(path, text, "the mapping file", like=path.parent / "config.yaml")
