"""``python -m hibob_sync.sandbox``: serve a fake HiBob on loopback until Ctrl-C.

``python -m hibob_sync.sandbox roster ...`` changes a running sandbox's people
(sandbox/roster_cli.py); the sandbox takes such changes only when started with
``HIBOB_SANDBOX_ADMIN_TOKEN`` set.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Sequence

from hibob_sync.interrupts import sigterm_as_interrupt
from hibob_sync.sandbox.company import generate_company
from hibob_sync.sandbox.roster_cli import ADMIN_TOKEN_ENV, URL_ENV
from hibob_sync.sandbox.roster_cli import main as roster_main
from hibob_sync.sandbox.server import HibobSandbox

TOKEN_ENV = "HIBOB_SANDBOX_TOKEN"  # noqa: S105 - the variable's name, not a secret


def main(argv: Sequence[str] | None = None) -> int:
    """Parse options, start the sandbox, print its URL and serve until interrupted."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["roster"]:
        return roster_main(args_list[1:])
    parser = argparse.ArgumentParser(
        prog="python -m hibob_sync.sandbox", description="Serve a fake HiBob people API."
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--employees", type=int, default=200, help="company size")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated company")
    parser.add_argument("--user-id", default="sandbox-user", help="service user ID")
    parser.add_argument(
        "--user-token",
        default=None,
        help=f"service user token (prefer the {TOKEN_ENV} env var: argv is visible to others)",
    )
    parser.add_argument("--shape", choices=("hybrid", "nested", "slash"), default="hybrid")
    parser.add_argument("--scope", choices=("all", "employed"), default="all")
    parser.add_argument(
        "--leave-status",
        choices=("Active", "Inactive"),
        default="Active",
        help="the company's leave setting: whether people on leave keep access",
    )
    args = parser.parse_args(args_list)
    token = args.user_token or os.environ.get(TOKEN_ENV)
    if not token:
        parser.error(f"set {TOKEN_ENV} or pass --user-token")
    admin_token = os.environ.get(ADMIN_TOKEN_ENV, "").strip() or None
    sandbox = HibobSandbox(
        generate_company(args.employees, args.seed, leave_status=args.leave_status),
        port=args.port,
        answer_shape=args.shape,
        admin_token=admin_token,
    )
    sandbox.add_service_user(args.user_id, token, people_scope=args.scope)
    sandbox.start()
    print(sandbox.url, flush=True)
    print(
        f"{len(sandbox.company)} employees; service user {args.user_id!r}. Ctrl-C stops.",
        file=sys.stderr,
        flush=True,
    )
    if admin_token:
        print(
            f"Roster changes: {URL_ENV}={sandbox.url} python -m hibob_sync.sandbox roster "
            f"--help (with {ADMIN_TOKEN_ENV} exported)",
            file=sys.stderr,
            flush=True,
        )
    try:
        with sigterm_as_interrupt():  # `kill` stops it as Ctrl-C does, cleanly
            threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
