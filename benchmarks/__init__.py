"""Benchmarks for ``feeds build``: a corpus generator, a runner and a profiler (see README.md)."""
