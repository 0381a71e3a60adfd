"""``python -m seqnet.cli.compare``: the same as the seqnet-compare command."""

import sys

from seqnet.cli.compare.command import main

sys.exit(main())
