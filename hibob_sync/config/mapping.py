"""The field mapping: which HiBob field(s) feed each HiThrive field.

Loaded from and written to mapping.yaml. Email must be mapped; only the eight HiThrive
fields are allowed; sources are HiBob field IDs (``root.email``,
``work.custom.field_1700000000000``) or lists of them. Writes are atomic (temp file +
rename) so an interrupted ``map set`` never leaves half a file.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hibob_sync.config.mapping_file import edited
from hibob_sync.config.settings import load_yaml
from hibob_sync.errors import ConfigError
from hibob_sync.model import ALL_FIELDS

FIELD_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)+$")

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
    """HiThrive field -> HiBob source field IDs, in the order given."""

    sources: Mapping[str, tuple[str, ...]]

    def __iter__(self) -> Iterator[str]:
        return iter(name for name in ALL_FIELDS if name in self.sources)

    @property
    def fields(self) -> tuple[str, ...]:
        """The mapped HiThrive fields, in canonical order."""
        return tuple(self)

    def all_sources(self) -> tuple[str, ...]:
        """Every HiBob field ID the mapping reads, de-duplicated, in order."""
        seen: dict[str, None] = {}
        for name in self:
            for source in self.sources[name]:
                seen.setdefault(source, None)
        return tuple(seen)

    def fields_of(self, source: str) -> str:
        """The HiThrive fields a HiBob source feeds, as `a/b`: messages name both sides."""
        return "/".join(name for name in self if source in self.sources[name])

    def with_field(self, name: str, sources: Sequence[str]) -> FieldMapping:
        """A copy with one field (re)mapped; validated."""
        updated = dict(self.sources)
        updated[name] = tuple(sources)
        return validate(updated, "map set")

    def without_field(self, name: str) -> FieldMapping:
        """A copy with one field unmapped; validated (email cannot be removed)."""
        if name not in ALL_FIELDS:
            raise ConfigError(_unknown_field(name, "map unset"))
        updated = {k: v for k, v in self.sources.items() if k != name}
        return validate(updated, "map unset")


def default_mapping() -> FieldMapping:
    """The mapping used when there is no mapping file yet (the spec's example)."""
    return FieldMapping(dict(DEFAULT_SOURCES))


def _unknown_field(name: str, where: str) -> str:
    return f"{where}: unknown HiThrive field {name!r}; expected one of: {', '.join(ALL_FIELDS)}"


def _sources(name: str, raw: object, where: str) -> tuple[str, ...]:
    items: list[object] = list(raw) if isinstance(raw, (list, tuple)) else [raw]
    if not items:
        raise ConfigError(f"{where}: mapping.{name}: expected a HiBob field ID or a list of them")
    result: list[str] = []
    for item in items:
        if not isinstance(item, str) or not FIELD_ID.match(item.strip()):
            raise ConfigError(
                f"{where}: mapping.{name}: {item!r} is not a HiBob field ID "
                "(expected something like work.title or work.custom.field_1700000000000)"
            )
        if item.strip() not in result:
            result.append(item.strip())
    return tuple(result)


def validate(raw: object, where: str) -> FieldMapping:
    """Check a ``{field: source(s)}`` dict; raise ConfigError naming the field."""
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{where}: mapping: expected a mapping of HiThrive field to HiBob field ID, "
            f"got {type(raw).__name__}"
        )
    sources: dict[str, tuple[str, ...]] = {}
    for name, value in raw.items():
        if name not in ALL_FIELDS:
            raise ConfigError(_unknown_field(str(name), f"{where}: mapping"))
        if value is None:
            continue
        sources[name] = _sources(name, value, where)
    if "email" not in sources:
        raise ConfigError(
            f"{where}: mapping.email: email must be mapped (it identifies each user), "
            "e.g. email: root.email"
        )
    return FieldMapping(sources)


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
    unknown = [str(k) for k in data if k != "mapping"]
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]} (only 'mapping' is allowed)")
    if "mapping" not in data:
        raise ConfigError(f"{path}: missing the top-level 'mapping:' key")
    return validate(data["mapping"], str(path))


def render(mapping: FieldMapping) -> str:
    """The YAML text of a mapping file, fields in canonical order."""
    lines = [
        "# hibob-sync field mapping: HiThrive field -> HiBob field ID, or a list of them.",
        "# Edit by hand or with `hibob-sync map`. Email is required.",
        "mapping:",
    ]
    for name in mapping:
        sources = mapping.sources[name]
        value = sources[0] if len(sources) == 1 else "[" + ", ".join(sources) + "]"
        lines.append(f"  {name}: {value}")
    return "\n".join(lines) + "\n"


def save_mapping(path: Path, mapping: FieldMapping) -> None:
    """Write mapping.yaml atomically (temp file, then rename), keeping a hand-edited file's
    comments where only some fields changed (mapping_file.edited)."""
    text = render(mapping)
    if path.is_file():
        try:
            before = path.read_text(encoding="utf-8")
            old = load_mapping(path, default_if_missing=False).sources
        except (OSError, UnicodeDecodeError, ConfigError):
            pass
        else:
            text = edited(before, old, mapping.sources) or text
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
