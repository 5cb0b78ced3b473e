"""`map`'s questions about extra attributes: what the SCIM server announces, and adding one.

After the HiThrive fields, the admin may add any attribute the server announces in /Schemas
('?' lists those it can write), pick its HiBob field as for the eight, or remove one
('-NAME'). Without the server at hand (no token yet) a path is taken as typed; `check`
verifies it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from hibob_sync import credentials
from hibob_sync.config.mapping import FieldMapping
from hibob_sync.config.settings import Settings
from hibob_sync.errors import ConfigError, HibobSyncError
from hibob_sync.hibob.client import CatalogueField
from hibob_sync.http import HttpSettings
from hibob_sync.safe_text import shown
from hibob_sync.scim.attributes import CORE_USER, AttributePath, extra_path
from hibob_sync.scim.discovery import ServerFeatures
from hibob_sync.sync.clients import scim_client
from hibob_sync.sync.extra_targets import extra_problems
from hibob_sync.sync.mapping_editor import rule_text

Ask = Callable[[str, str], str]
Say = Callable[[str], None]
Resolve = Callable[[str], tuple[list[str] | None, list[str]]]
_TOOL_OWNS = frozenset({"id", "externalid", "meta", "schemas", "active", "emails", "username"})


def try_server(
    settings: Settings | None, mapping: FieldMapping, http: HttpSettings | None = None
) -> tuple[tuple[ServerFeatures, dict[str, AttributePath]] | None, str]:
    """What the SCIM server announces (and where the mapping writes), or None and why not."""
    if settings is None or not settings.scim_url:
        return None, "no hithrive.scim_url configured"
    try:
        token = credentials.scim_token()
        with scim_client(settings, token, http, tuple(mapping.extra)) as client:
            return (client.discover(), dict(client.placement)), ""
    except HibobSyncError as exc:
        return None, exc.message


def writable(features: ServerFeatures) -> list[str]:
    """Every User attribute the server announces and can take a value in, as written in
    mapping.yaml (bare for core attributes; `addresses[type eq "work"].country` for items)."""
    infos = features.attribute_info or {}
    schemas = {s.lower() for s in features.user_schemas or ()} or None
    names: list[str] = []
    for key, info in infos.items():
        urn, _, name = (info.name or key).rpartition(":")
        if schemas is not None and urn.lower() not in schemas:
            continue
        top, _, sub = name.partition(".")
        parent = infos.get(f"{urn}:{top}".lower())
        if info.read_only or info.immutable or info.type in ("complex", "binary"):
            continue
        if parent is not None and (parent.read_only or parent.immutable):
            continue
        if urn.lower() == CORE_USER.lower() and top.lower() in _TOOL_OWNS | {"groups", "password"}:
            continue
        if sub and parent is not None and parent.multi_valued:
            if sub.lower() in ("type", "primary"):
                continue
            name = f'{top}[type eq "work"].{sub}'
        names.append(name if urn.lower() == CORE_USER.lower() else f"{urn}:{name}")
    return names


def ask_extras(
    mapping: FieldMapping,
    server: tuple[ServerFeatures, dict[str, AttributePath]] | None,
    catalogue: Sequence[CatalogueField] | None,
    resolve: Resolve,
    ask: Ask,
    say: Say,
) -> FieldMapping:
    """The extra-attribute questions (see module docstring); the mapping with the answers."""
    if mapping.extra:
        say("\nExtra attributes:")
        for key, sources in mapping.extra.items():
            say(f"  {shown(key)} <- {', '.join(sources)}{rule_text(mapping, key)}")
    while True:
        answer = ask(
            "Add an extra SCIM attribute ('?' lists them, '-NAME' removes one, Enter: done)", ""
        ).strip()
        if not answer:
            return mapping
        if answer == "?":
            for name in writable(server[0]) if server else ():
                say(f"  {name}")
            if server is None:
                say("  (the SCIM server cannot be read: type a path; `check` verifies it)")
            continue
        if answer.startswith("-"):
            name = answer[1:].strip()
            if name not in mapping.extra:
                mapped = ", ".join(mapping.extra) or "none"
                say(f"  no extra attribute {shown(name)!r} to remove (mapped: {shown(mapped)})")
            mapping = mapping.without_extra(name)
            continue
        try:
            extra_path(answer)
        except ValueError as exc:
            say(f"  {exc}")
            continue
        while True:
            source = ask(f"{answer} - HiBob field ID or name", "").strip()
            if not source:
                break
            if source == "?":
                for entry in catalogue or ():
                    say(f"  {entry.name} ({entry.id})")
                continue
            chosen, lines = resolve(source)
            for line in lines:
                say(f"  {line}")
            if not chosen:
                continue
            try:
                # A new source keeps the value rules (edited in mapping.yaml), as `map extra`.
                trial = mapping.with_extra(answer, chosen, mapping.rule(answer.strip()))
            except ConfigError as exc:
                say(f"  {exc.message}")
                break
            wrong = extra_problems(trial, *server, catalogue) if server else []
            mine = [text for key, text in wrong if key == answer.strip()]
            for text in mine:
                say(f"  extra.{answer}: {text}")
            if not mine:
                mapping = trial
            break
