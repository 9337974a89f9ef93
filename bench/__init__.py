"""Benchmarks of meteremu's C core against the peers named in SPEC section 9.

Run from the repository root: ``python -m bench`` (``--quick`` for a short run,
``--json PATH`` to keep the figures). Every ratio compares two figures measured
side by side in the same run on the same machine; nothing here is a test, and
no test asserts on timing.
"""
