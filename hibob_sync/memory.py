"""The run's memory: what earlier runs left in the state store, read once at a run's start,
and what the run learnt, written back once at its end (state.py reads and writes both).

Plain data, so the steps take it and return what changed without touching SQLite.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hibob_sync.model import Failure
from hibob_sync.pace import Learnt


@dataclass(frozen=True)
class RunMemory:
    """The state store as one run found it (empty: no store yet)."""

    dialect: Mapping[str, str] = field(default_factory=dict)  # forms this SCIM server took
    pace: Learnt | None = None  # its rate limit, as a run of the last week learnt it
    last_good_coverage: frozenset[str] | None = None  # mapping sources of the last good run
    known_problems: Mapping[Failure, str] = field(default_factory=dict)  # with since when
    missing_since: Mapping[str, str] = field(default_factory=dict)  # grace-window countdowns
    managed_users: Mapping[str, bool] = field(default_factory=dict)  # SCIM id -> made ahead
    nightly_codes: tuple[int, ...] = ()  # exit codes of the newest nightly runs, newest first
    last_good_finish: str | None = None  # when the newest good nightly run finished

    def streak(self, code: int, codes: tuple[int, ...]) -> int:
        """How many nightly runs in a row, this one (``code``) first, ended in ``codes``."""
        count = 0
        for each in (code, *self.nightly_codes):
            if each not in codes:
                break
            count += 1
        return count


@dataclass(frozen=True)
class RunChanges:
    """What one run learnt, beside its history record; None: nothing to replace."""

    scim_url: str = ""
    dialect: Mapping[str, str] = field(default_factory=dict)  # forms the server took
    pace: Learnt | None = None  # the pace its rate limit allowed
    missing: Mapping[str, str] | None = None  # the countdowns now running (nightly runs)
    managed: Mapping[str, bool] | None = None  # the SCIM ids hibob-sync now manages
