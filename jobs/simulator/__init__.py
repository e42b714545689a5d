"""Fake clouds for the demo, the tests and the benchmarks; see core.py for the map of its modules."""
