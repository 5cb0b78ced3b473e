"""The text a person reads: long lists of employees are cut, with the reasons counted."""

from __future__ import annotations

from hibob_sync.core.report import SHOWN, counts_text, summary_text
from hibob_sync.core.summary import RunSummary
from hibob_sync.model import Failure


def test_long_lists_are_cut_with_counted_reasons() -> None:
    failures = [Failure(str(i), f"p{i}@example.com", "no email in HiBob") for i in range(SHOWN)]
    failures += [Failure(str(i), None, "birthday is not a valid date") for i in range(SHOWN, 45)]
    summary = RunSummary(started_at="t", counts={"create": 2, "rejected": 45}, failures=failures)
    text = summary_text(summary)
    assert text.startswith("Done: 2 created, 45 set aside.")
    assert "p0@example.com (HiBob 0): no email in HiBob" in text
    assert f"p{SHOWN - 1}@example.com" in text
    assert f"HiBob {SHOWN})" not in text
    assert "... and 15 more (`run --json` lists them all):" in text
    assert "15 x birthday is not a valid date" in text


def test_counts_text_leaves_out_zeros() -> None:
    assert counts_text({"create": 0, "update": 3, "unchanged": 7}) == "3 updated, 7 unchanged"
    assert counts_text({}) == "nothing to do"
