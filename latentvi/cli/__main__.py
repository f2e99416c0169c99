"""`python -m latentvi.cli`: the same as the `latentvi` command."""

from latentvi.cli import main

__all__ = []  # run as a script; it exports nothing

raise SystemExit(main())
