"""`check`'s SCIM items: token, target attributes, PATCH support, /Schemas and dialect."""

from __future__ import annotations

from hibob_sync.config.mapping import FieldMapping
from hibob_sync.config.settings import Settings
from hibob_sync.errors import ExitCode, HibobSyncError
from hibob_sync.http import HttpSettings
from hibob_sync.scim.client import ScimClient
from hibob_sync.scim.dialect import describe
from hibob_sync.scim.values import filler_hint, type_problems, unfilled_required
from hibob_sync.state import StateStore
from hibob_sync.sync.checklist import Checklist
from hibob_sync.sync.clients import scim_client
from hibob_sync.sync.scim_users import probe_users
from hibob_sync.sync.validation import server_findings


def check_scim(
    settings: Settings,
    mapping: FieldMapping,
    token: str,
    http: HttpSettings | None,
    out: Checklist,
) -> None:
    """SCIM: token valid, target attributes announced, patch support."""
    try:
        scim = scim_client(settings, token, http, tuple(mapping.extra))
    except HibobSyncError as exc:
        out.error(exc, "HiThrive")
        return
    with scim as client:
        try:
            features = client.discover()
            probe_users(client)
        except HibobSyncError as exc:
            out.error(exc, "HiThrive")
            return
        out.add(True, f"SCIM token accepted by {client.service}")
        if features.schema_attributes is None:
            out.add(None, "the SCIM server publishes no /Schemas; target attributes not verified")
        # The one validation, as plan, run and apply run it (validation.py).
        wrong = server_findings(mapping, features, client.placement, out.catalogue)
        for finding in wrong:
            out.add(False, finding.line, ExitCode.CONFIG, finding.hint)
        if features.schema_attributes is not None and not wrong:
            out.add(True, "every target attribute exists in the server's /Schemas and can hold it")
        if features.patch:
            out.add(True, "the SCIM server supports PATCH (only changed attributes are sent)")
        else:
            out.add(None, "the SCIM server does not support PATCH; whole users are PUT instead")
        check_scim_schema(settings, mapping, client, out)


def check_scim_schema(
    settings: Settings, mapping: FieldMapping, client: ScimClient, out: Checklist
) -> None:
    """What /Schemas says of the targets (types, required attributes), and the dialect the
    server was found to speak in earlier runs (scim_dialect.py)."""
    features = client.discover()
    known = settings.state_path.exists()  # check never creates the state store
    for problem in type_problems(features, client.placement, mapping.fields):
        if not problem.fatal:  # the fatal ones are server_findings'
            out.add(
                None, f"the SCIM attribute {problem.path} (for {problem.field}) {problem.reason}"
            )
    for path in unfilled_required(features, client.placement, mapping.targets):
        out.add(
            False,
            f"the SCIM server requires {path} to create a user, and the mapping does not fill it",
            ExitCode.CONFIG,
            filler_hint(path, client.placement),
        )
    forms = (
        StateStore(settings.state_path, read_only=True).dialect(client.base_url) if known else {}
    )
    if forms:
        out.add(None, "SCIM dialect learned in earlier runs: " + "; ".join(describe(forms)))
