"""``python -m meteremu.cli``: the ``meteremu`` command."""

import sys

from . import main

sys.exit(main())
