"""Bench-only code behind ``scripts/bench`` (issue 6): the deterministic data generator,
the floor server, the load driver around ``wrk`` and the report. Nothing in ``app/``
imports it; it is run with ``scripts`` on ``PYTHONPATH`` (``python -m benchmark.run``)."""
