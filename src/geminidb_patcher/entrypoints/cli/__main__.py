"""``python -m geminidb_patcher.entrypoints.cli``."""

import sys

from geminidb_patcher.entrypoints.cli.main import main

sys.exit(main())
