"""Fake clouds for the demo, the tests and the benchmarks; see core.py."""
