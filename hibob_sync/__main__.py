"""Allow ``python -m hibob_sync``."""

from hibob_sync.cli.commands import main

if __name__ == "__main__":
    main()
