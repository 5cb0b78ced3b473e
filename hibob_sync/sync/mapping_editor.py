"""What `map` needs beyond the file: the company's HiBob field catalogue, searched by name.

This module fetches the catalogue, runs the interactive editor's questions (through ``ask``
and ``say`` callables, so it needs no terminal and no click), resolves what the admin
typed (a field ID, a name, part of a name) and checks a mapping against the catalogue.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from hibob_sync.config.mapping import FIELD_HELP, FieldMapping, validate
from hibob_sync.config.mapping_check import did_you_mean, mapping_problems
from hibob_sync.config.settings import Settings
from hibob_sync.errors import ConfigError, HibobSyncError
from hibob_sync.hibob.client import CatalogueField, unknown_sources
from hibob_sync.http import HttpSettings
from hibob_sync.model import HITHRIVE_FIELDS, NAME_FIELDS
from hibob_sync.safe_text import shown
from hibob_sync.sync.clients import hibob_client

# Fields that are bookkeeping, not profile data: not offered for mapping.
HIDDEN = frozenset({"root.id", "internal.lifecycleStatus", "internal.status"})

Ask = Callable[[str, str], str]  # (question, default) -> the answer typed
Say = Callable[[str], None]


def rule_text(mapping: FieldMapping, name: str) -> str:
    """`  (R&D -> Engineering; default UTC)`: an entry's value rules, as `map show` says them."""
    rule = mapping.rule(name)
    parts = [f"{k} -> {v}" for k, v in rule.values.items()]
    if rule.default is not None:
        parts.append(f"default {rule.default}")
    return f"  ({shown('; '.join(parts))})" if parts else ""


def mapping_text(mapping: FieldMapping) -> str:
    """One line per HiThrive field and its HiBob sources (value rules in brackets), then the
    extra attributes, as `map` and `map show` print it."""
    lines = []
    for name in (*HITHRIVE_FIELDS, *(f for f in NAME_FIELDS if f in mapping.sources)):
        sources = mapping.sources.get(name)
        text = ", ".join(sources) + rule_text(mapping, name) if sources else "(not mapped)"
        lines.append(f"{name:<14} {text}")
    if mapping.extra:
        lines.append("extra attributes:")
        for key, sources in mapping.extra.items():
            lines.append(f"  {shown(key)} <- {', '.join(sources)}{rule_text(mapping, key)}")
    return "\n".join(lines)


def ask_sources(
    mapping: FieldMapping,
    catalogue: Sequence[CatalogueField] | None,
    ask: Ask,
    say: Say,
    where: str = "map",
    judge: Callable[[FieldMapping, str], list[str]] | None = None,
) -> dict[str, tuple[str, ...]]:
    """The interactive editor: one question per HiThrive field until each answer resolves.

    Enter keeps the current sources, '-' unmaps (never email), '?' lists the catalogue.
    Without a catalogue (no credentials yet) answers are taken as typed; `check` verifies.
    ``judge`` says what else is wrong with an answer (the values HiBob returns for it).
    """
    known = f"{len(catalogue)} in your catalogue" if catalogue is not None else "not verified"
    say(
        f"\nFor each field type a HiBob field ID or name ({known}), "
        "several separated by commas; Enter keeps, '-' unmaps, '?' lists the fields."
    )
    sources = dict(mapping.sources)
    for name in HITHRIVE_FIELDS:
        while True:
            current = ", ".join(sources.get(name, ())) or "-"
            answer = ask(f"{name} - {FIELD_HELP[name]}", current).strip()
            if answer == "?":
                for entry in catalogue or ():
                    say(f"  {label(entry)}")
                continue
            if answer == "-":
                if name == "email":
                    say("  email is required: it identifies each user")
                    continue
                sources.pop(name, None)
                break
            if answer == current:
                break
            chosen: list[str] | None
            problems: list[str]
            if catalogue is None:
                chosen, problems = [p.strip() for p in answer.split(",") if p.strip()], []
            else:
                chosen, problems = resolve_answer(answer, catalogue)
            if chosen and catalogue is not None:
                trial = validate({**sources, name: tuple(chosen)}, where)
                problems = problems_of(trial, catalogue, name)
                if not problems and judge is not None:
                    problems = judge(trial, name)
                chosen = None if problems else chosen
            for line in problems:
                say(f"  {line}")
            if chosen:
                sources[name] = tuple(chosen)
                break
    return sources


def fetch_catalogue(settings: Settings, http: HttpSettings | None = None) -> list[CatalogueField]:
    """The HiBob field catalogue, with the stored credentials (it needs no permission group)."""
    with hibob_client(settings, http=http) as client:
        return mappable(client.fields())


def mappable(catalogue: Sequence[CatalogueField]) -> list[CatalogueField]:
    """The catalogue fields offered for mapping: `map` and `connect` count the same ones."""
    return [f for f in catalogue if f.id not in HIDDEN]


def match_fields(text: str, catalogue: Sequence[CatalogueField]) -> list[CatalogueField]:
    """Catalogue fields matching what was typed: an exact ID, an exact name, else a part."""
    wanted = text.strip()
    if not wanted:
        return []
    exact = [f for f in catalogue if f.id == wanted]
    if exact:
        return exact
    folded = wanted.casefold()
    by_name = [f for f in catalogue if f.name.casefold() == folded]
    if by_name:
        return by_name
    return [
        f
        for f in catalogue
        if folded in f.name.casefold()
        or folded in f.id.casefold()
        or folded in f.category_name.casefold()
    ]


def resolve_answer(
    answer: str, catalogue: Sequence[CatalogueField]
) -> tuple[list[str] | None, list[str]]:
    """Field IDs for what the admin typed (comma-separated), or None and what to tell them."""
    chosen: list[str] = []
    for part in (p.strip() for p in answer.split(",") if p.strip()):
        matches = match_fields(part, catalogue)
        if len(matches) == 1:
            chosen.append(matches[0].id)
        elif not matches and not unknown_sources([part], catalogue):
            chosen.append(part)  # a sub-field such as work.reportsTo.email
        elif not matches:
            hint = did_you_mean(part, catalogue) or "; '?' lists them"
            return None, [f"no HiBob field matches {shown(part)!r}{hint}"]
        else:
            lines = [f"{part!r} matches several fields; type one ID:"]
            return None, lines + [f"  {label(entry)}" for entry in matches[:15]]
    return (chosen or None), ([] if chosen else ["type a HiBob field ID or name"])


def exact_field(typed: str, catalogue: Sequence[CatalogueField]) -> tuple[str | None, list[str]]:
    """A scope rule's field: an exact ID (or a sub-field of one) or an exact name, never the
    closest part-match, since a rule saved on the wrong field silently changes who is synced.
    Else None and a did-you-mean, as the config check says it (78)."""
    wanted = typed.strip()
    if not unknown_sources([wanted], catalogue):
        return wanted, []
    by_name = [f for f in catalogue if f.name.casefold() == wanted.casefold()]
    if len(by_name) == 1:
        return by_name[0].id, []
    if by_name:
        lines = [f"{shown(wanted)!r} names several fields; type one ID:"]
        return None, lines + [f"  {label(entry)}" for entry in by_name[:15]]
    hint = did_you_mean(wanted, catalogue)
    if not hint and match_fields(wanted, catalogue):
        hint = f"; `hibob-sync scope fields {shown(wanted)}` lists the fields that contain it"
    return None, [f"HiBob has no field {shown(wanted)}{hint}"]


def label(field: CatalogueField) -> str:
    """`Job title (work.title, category Work)`."""
    return shown(f"{field.name} ({field.id}, category {field.category_name})")


def try_catalogue(
    settings: Settings, http: HttpSettings | None = None
) -> tuple[list[CatalogueField] | None, str]:
    """The catalogue, or None and why not: editing the mapping must not need credentials."""
    try:
        return fetch_catalogue(settings, http), ""
    except HibobSyncError as exc:
        return None, exc.message


def problems_of(
    mapping: FieldMapping, catalogue: Sequence[CatalogueField], *names: str
) -> list[str]:
    """`mapping.FIELD: ...` for each mapped source of these fields (all when none) that is wrong."""
    return [
        f"{p.key}: {p.text}"
        for p in mapping_problems(mapping, catalogue)
        if not names or p.field in names
    ]


def refuse(lines: list[str]) -> ConfigError:
    """A mapping the catalogue contradicts: exit 78, nothing saved."""
    return ConfigError(
        "\n".join(lines),
        hint="`hibob-sync map` lists your HiBob fields ('?'); map set takes their IDs",
    )
