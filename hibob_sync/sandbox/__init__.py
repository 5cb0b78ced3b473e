"""A local stand-in for HiBob's people API, for tests and ``hibob-sync demo``.

It follows HiBob's documented behaviour rather than what would be convenient for a client.
Where HiBob's docs are silent or disagree, the choice is an option, so clients meet both.

Endpoints (HTTP Basic: service user ID / token; wrong or missing -> 401):
- ``GET /v1/company/people/fields``: the catalogue (``catalogue.FIELDS``); any valid user.
- ``POST /v1/people/search``: body ``fields`` (<= 400, else 400), ``showInactive`` (default
  false), ``humanReadable`` (absent, ``APPEND``, ``REPLACE``), ``filters`` (left out, or
  exactly one; ``[]`` gets 400:
  ``{"fieldPath": "root.id"|"root.email", "operator": "equals", "values": [...]}``; email
  matches trimmed and case-insensitively). A user in no permission group gets 403. Fields
  of categories the user lacks, and unknown IDs, are silently left out of the 200 answer;
  a known field with no value comes back as null. Inactive employees (``internal.status``)
  come back only with ``showInactive: true`` and people scope ``"all"``; scope
  ``"employed"`` is HiBob's condition "lifecycle status is Employed": it sees Employed
  people only (no Hired, Leave, Parental leave or Garden leave).
- Statuses as HiBob's help centre has them: Hired is Inactive until the start date,
  Employed and Garden leave are Active, Terminated is Inactive, and the leave types are
  Active or Inactive as the company's leave setting says (``Company.leave_status``,
  ``set_leave_status``). ``Company.hire``/``start``/``set_lifecycle`` move people along.
- Errors: ``{"key": ..., "error": ...}``. Rate limit: ``rate_limit`` searches per user per
  ``rate_window`` seconds (fixed window from its first search), then 429; every search answer
  carries ``X-RateLimit-Limit/-Remaining/-Reset`` (Reset = epoch seconds of the window's end);
  ``Retry-After`` (seconds) only with ``retry_after_header=True``.

Answer shapes (``answer_shape``), after HiBob's people search reference and lists guide:
- ``"hybrid"`` (default, the lists guide's example): one ``"/work/title": {"value": ...}``
  entry per requested field ID (dots turned into slashes) *and* the same machine values
  nested by path (``{"id": ..., "email": ..., "work": {"title": ...}}``).
- ``"nested"``: the nested values only. Root fields sit at the top (their catalogue
  ``jsonPath`` is ``email``, not ``root.email``); ``root_at_top=False`` nests them under
  ``"root"`` instead.
- ``"slash"``: the slash entries only.
With ``APPEND`` every shape adds one employee-level ``"humanReadable"`` object, nested by path,
holding display values (null values have none); slash entries only ever hold ``"value"``.
``REPLACE`` puts display values where machine values were.

Values: machine values are list item IDs for list fields, ISO ``YYYY-MM-DD`` dates, an int for
``work.employeeIdInCompany``, and for ``work.reportsTo`` an object ``{id, email, firstName,
surname, displayName}`` (null for nobody). Display values are item names, dates formatted with
``display_date_format`` (default ``%d/%m/%Y``, to catch clients reading dates from them), the
number as text, and the manager's display name.

Dates of birth (``birth_dates``): ``"full"`` (default); under HiBob's older permission rule
a service user with View but not Edit on the category gets ``"short"`` (``MM-DD``) or
``"none"`` (left out).

Sub-paths: what HiBob does with ``work.reportsTo.email`` in ``fields`` is unknown. With
``subpaths="value"`` (default) a sub-path of an employee reference is answered with that one
key (``{"work": {"reportsTo": {"email": ...}}}`` / ``"/work/reportsTo/email"``); with
``"omit"`` it is treated as an unknown field and left out.

Changes while it runs (a hire, a leaver, someone left out of the answers, an empty answer):
``HibobSandbox(admin_token=...)`` opens ``/_sandbox/roster`` (sandbox/admin.py), which
``python -m hibob_sync.sandbox roster ...`` drives; ``hibob-sync demo --serve`` uses both.

Outages and request records are not the demo's business: the test suite scripts them in
``tests/hibob_faults.py`` through ``HibobSandbox.intercept`` and ``send_answer``.
"""

from hibob_sync.sandbox.access import ServiceUser
from hibob_sync.sandbox.catalogue import (
    ALL_CATEGORIES,
    CATEGORIES,
    CUSTOM_CATEGORY,
    FIELDS,
    GROUPS_FIELD,
    TEAMS_FIELD,
)
from hibob_sync.sandbox.company import AWKWARD_CASES, Company, generate_company
from hibob_sync.sandbox.server import FIELDS_PATH, SEARCH_PATH, HibobSandbox

__all__ = [
    "ALL_CATEGORIES",
    "AWKWARD_CASES",
    "CATEGORIES",
    "CUSTOM_CATEGORY",
    "FIELDS",
    "FIELDS_PATH",
    "GROUPS_FIELD",
    "SEARCH_PATH",
    "TEAMS_FIELD",
    "Company",
    "HibobSandbox",
    "ServiceUser",
    "generate_company",
]
