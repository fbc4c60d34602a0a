"""python -m local_runtime.sam_local invoke|start-api (local_runtime.sam_local.cli)."""

import sys

from local_runtime.sam_local.cli import main

sys.exit(main())
