"""`python -m wafpy`: the `wafpy` command, for when its script is not on PATH."""

import sys

from wafpy.cli.main import main

if __name__ == "__main__":  # tools that import every module must not run the command
    sys.exit(main())
