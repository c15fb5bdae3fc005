"""``python -m deltaprop`` runs the command-line tool."""

from .cli import main

# Guarded: worker processes started with "spawn" import this module again (deltaprop sweep).
if __name__ == "__main__":
    raise SystemExit(main())
