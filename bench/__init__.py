"""serialsync benchmarks: publish, no-op, orders and oversell window against the sandbox.

Run ``python -m bench --help``. Nothing here is part of the test run: benchmarks measure, tests
assert. The modules, one idea each:

* :mod:`bench.timescale` — platform time running N times faster (clock and sleep).
* :mod:`bench.platforms` — each platform's limits, its fake built to enforce them, and the
  request and time floors of a workload.
* :mod:`bench.sandbox_process` — the sandbox served from a child process, driven over a pipe,
  so the host's CPU and memory are the host's alone.
* :mod:`bench.host_run` — the measured passes: publish, no-op, orders, one steady cycle.
* :mod:`bench.naive` — the baseline: the same publish one variant per request, unpaced.
* :mod:`bench.report` — the table and ``bench/results/latest.json``.
"""
