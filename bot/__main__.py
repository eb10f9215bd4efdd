"""`python -m bot`: the same command line as `baton` (the CLI is an adapter, in handlers)."""

import sys

from handlers.cli import main

sys.exit(main())
