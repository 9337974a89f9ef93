"""``python -m meteremu.device``: the rules tables docs/METER.md carries."""

import sys

from .rules import markdown

sys.stdout.write(markdown())
