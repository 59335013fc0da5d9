"""`python -m bssctl` is the `bssctl` command."""

from bssctl.cli import main

main()
