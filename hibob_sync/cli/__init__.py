"""The command line: click commands that parse options, call the core and print.

May import every layer below it; the only place that maps errors to exit codes."""

from hibob_sync.cli.commands import main

__all__ = ["main"]
