"""`python -m bssctl` is the `bssctl` command; `run` is also the console script's entry point."""

import sys


def run() -> None:
    try:
        from bssctl.cli import main  # the imports take a moment: a Ctrl-C may come while they run
    except KeyboardInterrupt:
        sys.exit(130)  # as quiet as a Ctrl-C later: no traceback
    main()


if __name__ == "__main__":
    run()
