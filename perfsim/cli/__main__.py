"""``python -m perfsim.cli``: the same as the ``perfsim`` command."""

import sys

from . import main

sys.exit(main())
