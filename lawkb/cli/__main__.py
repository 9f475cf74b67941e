"""`python -m lawkb.cli`."""

from lawkb.cli import main

main()
