"""``python -m hibob_sync.sandbox roster ...``: change a running sandbox's people, as HR would.

It talks to the sandbox's admin endpoint (sandbox/admin.py) on loopback, at the URL and
with the token of ``HIBOB_SANDBOX_URL`` and ``HIBOB_SANDBOX_ADMIN_TOKEN`` (the rehearsal,
``hibob-sync demo --serve``, writes both into its env file). The token comes from the
environment only: argv is visible to every user of the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from hibob_sync.sandbox.admin import ADMIN_PATH

URL_ENV = "HIBOB_SANDBOX_URL"
ADMIN_TOKEN_ENV = "HIBOB_SANDBOX_ADMIN_TOKEN"  # noqa: S105 - the variable's name


def parser() -> argparse.ArgumentParser:
    """The roster commands, one per change HR makes."""
    top = argparse.ArgumentParser(
        prog="python -m hibob_sync.sandbox roster",
        description=f"Change the people of a running HiBob sandbox (needs {URL_ENV} and "
        f"{ADMIN_TOKEN_ENV}; `hibob-sync demo --serve` writes both into its env file).",
    )
    verbs = top.add_subparsers(dest="action", required=True, metavar="ACTION")
    verbs.add_parser("list", help="every employee: ID, email, lifecycle, access status")
    hire = verbs.add_parser("hire", help="a new employee (active today, or a future start)")
    hire.add_argument("email")
    hire.add_argument("--first-name")
    hire.add_argument("--last-name")
    hire.add_argument(
        "--start-in", type=int, default=0, metavar="DAYS", help="a future hire (Inactive)"
    )
    for verb, text in (
        ("leave", "terminate an employee (Inactive)"),
        ("rehire", "bring a leaver back under the same ID"),
        ("remove", "leave an employee out of HiBob's answers (a record HiBob stops returning)"),
    ):
        verbs.add_parser(verb, help=text).add_argument("who", help="HiBob ID or email")
    change = verbs.add_parser("set", help="change one field, e.g. work.title")
    change.add_argument("who", help="HiBob ID or email")
    change.add_argument("field", help="a HiBob field ID such as work.title or work.site")
    change.add_argument("value", help="the new value ('' clears it)")
    restore = verbs.add_parser("restore", help="answer with a removed employee again")
    restore.add_argument("who", nargs="?", help="HiBob ID or email (default: everyone)")
    verbs.add_parser("empty", help="HiBob answers with no employees at all")
    return top


def request_for(args: argparse.Namespace) -> dict[str, Any] | None:
    """The JSON change the admin endpoint takes (None: the listing)."""
    if args.action == "list":
        return None
    body: dict[str, Any] = {"action": args.action}
    if args.action == "hire":
        body |= {
            "email": args.email,
            "first_name": args.first_name,
            "last_name": args.last_name,
            "start_in_days": args.start_in,
        }
    elif args.action == "set":
        body |= {"who": args.who, "field": args.field, "value": args.value}
    elif args.action != "empty":
        body["who"] = args.who
    return body


def main(argv: Sequence[str]) -> int:
    """Send one change (or list); 0 done, 1 refused by the sandbox, 2 usage."""
    top = parser()
    args = top.parse_args(argv)
    url, token = os.environ.get(URL_ENV, "").strip(), os.environ.get(ADMIN_TOKEN_ENV, "")
    if not url or not token.strip():
        top.error(f"set {URL_ENV} and {ADMIN_TOKEN_ENV} (e.g. `. DIR/env` from the rehearsal)")
    parts = urlsplit(url)
    body = request_for(args)
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked just below
        f"{parts.scheme}://{parts.netloc}{ADMIN_PATH}",
        data=None if body is None else json.dumps(body).encode("utf-8"),
        headers={"Authorization": f"Bearer {token.strip()}", "Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    if parts.scheme != "http":
        top.error(f"{URL_ENV} must be the sandbox's http:// URL on loopback")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
    try:
        with opener.open(request, timeout=30) as answer:
            document = json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        print(f"sandbox: {_error(exc)}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"sandbox: cannot reach {url} ({exc}); is it running?", file=sys.stderr)
        return 1
    try:
        _print(document, listing=body is None)
    except BrokenPipeError:  # `roster list | head`: the reader had enough, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error at exit
    return 0


def _print(document: dict[str, Any], *, listing: bool) -> None:
    if not listing:
        print(document["message"])
        return
    for row in document["employees"]:
        out = "" if row["in_answer"] else "  (left out of the answers)"
        print(
            f"{row['id']}  {row['email'] or '(no email)':<40} {row['lifecycle']:<15} "
            f"{row['status']}{out}",
            flush=True,
        )


def _error(exc: urllib.error.HTTPError) -> str:
    try:
        text = str(json.loads(exc.read())["error"])
    except (ValueError, KeyError, TypeError):
        text = f"HTTP {exc.code}"
    if exc.code == 401:  # no admin endpoint at all answers as HiBob does: 401
        text += f" (the sandbox takes roster changes only if started with this {ADMIN_TOKEN_ENV})"
    return text
