"""Who is active in HiThrive (spec.md): HiBob's access status decides, the lifecycle status
where it cannot be read; with neither, HiThrive's `active` is left as it is."""

from __future__ import annotations

from hibob_sync.hibob.answers import HibobEmployee

# Who is active (spec.md "Who is active in HiThrive"): HiBob's access status decides. The
# lifecycle status is the fallback only where the access status cannot be read: HiBob's help
# centre has Hired Inactive until the start date and Terminated Inactive; leave and garden
# leave follow the company's settings, which only the access status knows, so they count as
# active in the fallback (the person is still employed).
ACTIVE_STATUS = "active"
INACTIVE_STATUS = "inactive"
INACTIVE_LIFECYCLE = frozenset({"terminated", "hired"})
HIRED = "hired"


def is_active(employee: HibobEmployee) -> bool:
    """Whether the employee should have an active account (see ACTIVE_STATUS)."""
    status = (employee.status or "").strip().lower()
    if status in (ACTIVE_STATUS, INACTIVE_STATUS):
        return status == ACTIVE_STATUS
    lifecycle = (employee.lifecycle_status or "").strip().lower()
    return lifecycle not in INACTIVE_LIFECYCLE


def status_known(employee: HibobEmployee) -> bool:
    """Whether HiBob gave an access or a lifecycle status (else `active` is left as it is)."""
    return bool((employee.status or "").strip() or (employee.lifecycle_status or "").strip())


def is_future_hire(employee: HibobEmployee) -> bool:
    """Hired and not (yet) Active: HiBob turns them Active on their start date."""
    lifecycle = (employee.lifecycle_status or "").strip().lower()
    return lifecycle == HIRED and not is_active(employee)
