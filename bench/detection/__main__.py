"""`python -m bench.detection`: see `bench.detection.run`."""

import sys

from bench.detection.run import main

sys.exit(main())
