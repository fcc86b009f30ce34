"""The reliability suite (issue 11): faults, crashes, bad input and secrets, against the sandbox.

Run it alone with ``pytest -m reliability``; it is part of the normal run at a size CI can
afford. ``SERIALSYNC_RELIABILITY_SCALE=full`` runs the issue's sizes (2,000 units over 100 SKUs,
300 orders, 30 kills); ``SERIALSYNC_RELIABILITY_SEED`` picks the seed (an integer, or
``random``); ``SERIALSYNC_RELIABILITY_RATE`` the rate of each fault kind (default 0.1). Add
``-s`` to see each test's report.
"""
