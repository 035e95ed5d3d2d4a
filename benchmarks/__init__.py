"""streamrec's benchmarks: ``make bench`` runs ``python -m benchmarks.run`` and writes RESULTS.md.

Performance is measured here, not in timed tests. Load comes from other processes than the server
(wrk for saturation, :mod:`benchmarks.loadgen` for fixed-rate latency), every figure is a median
of several repetitions with its spread, and each is printed next to the limit it is read against,
measured in the same run. See :mod:`benchmarks.run` for how to add a benchmark module.
"""
