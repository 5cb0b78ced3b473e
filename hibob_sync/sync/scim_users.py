"""What `check` and `connect` read of the SCIM users: that the token may list them, and how
many another provisioning client made (ownership.py: a run never changes, deactivates or
counts those, and an admin should know they are there)."""

from __future__ import annotations

from collections.abc import Collection

from hibob_sync.config.settings import Settings
from hibob_sync.core.ownership import foreign_line
from hibob_sync.errors import ExitCode, HibobSyncError
from hibob_sync.http import HttpSettings
from hibob_sync.scim.client import ScimClient
from hibob_sync.scim.discovery import wrong_scim_url
from hibob_sync.state import StateStore
from hibob_sync.sync.clients import scim_client


def other_clients(
    settings: Settings, token: str, http: HttpSettings | None, answer_ids: Collection[str]
) -> tuple[bool | None, str, int, str | None]:
    """(ok, line, exit code, hint) for the checklist; the users are listed once, read only."""
    try:
        with scim_client(settings, token, http) as client:
            users = client.list_users()
        known = settings.state_path.exists()  # read only: check never creates the store
        owned = StateStore(settings.state_path, read_only=True).managed_users() if known else {}
    except HibobSyncError as exc:
        return False, f"HiThrive: {exc.message}", exc.exit_code, exc.hint
    ok, line = foreign_line(users, answer_ids, owned)
    return ok, line, ExitCode.OK, None


def probe_users(client: ScimClient) -> None:
    """A one-user list: proves the token may read users, not just discovery documents."""
    response, payload = client.request(
        "GET", "/Users", what="listing users", params={"startIndex": 1, "count": 1}
    )
    if response.status_code == 404:
        raise wrong_scim_url(client.base_url, "/Users is not there (HTTP 404)")
    if not response.ok:
        raise client.error(response, payload, "listing users")
