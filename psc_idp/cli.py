"""Console entry point ``psc-idp`` (see ``admin/cli.py`` for the commands)."""

from .admin.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    main()
