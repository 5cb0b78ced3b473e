"""HR data is untrusted text: shown with control characters escaped, written without them.

A job title holding an escape sequence or a line break would repaint an admin's terminal or
forge a line in a cron log ("Verdict: all good"). Every renderer passes HiBob and SCIM
values through ``shown``; values written to HiThrive go through ``cleaned``.
"""

from __future__ import annotations

import re
import unicodedata

# Characters that can reorder what a terminal shows (Trojan Source, CVE-2021-42574).
_BIDI = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_SPACES = frozenset("\t\n\r\v\f\x85\u2028\u2029")


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp")


def _escape(ch: str) -> str:
    code = ord(ch)
    return _NAMED.get(ch) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def shown(text: str) -> str:
    """``text`` safe to print: control, line-breaking and bidi characters as escapes."""
    if text.isprintable():  # the usual case, in C
        return text
    return "".join(_escape(ch) if _is_control(ch) or ch in _BIDI else ch for ch in text)


def line_safe(text: str) -> str:
    """A message of our own that may quote data: each line made safe, its line breaks kept."""
    return "\n".join(shown(line) for line in text.split("\n"))


def has_controls(text: str) -> bool:
    """Whether ``cleaned`` would change ``text``."""
    return not text.isprintable() and any(_is_control(ch) for ch in text)


def cleaned(text: str) -> str:
    """``text`` as written to HiThrive: line breaks and tabs become a space, other controls go."""
    if not has_controls(text):
        return text
    out = "".join(
        " " if ch in _SPACES else ch for ch in text if ch in _SPACES or not _is_control(ch)
    )
    return re.sub(" {2,}", " ", out).strip()
