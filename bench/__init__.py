"""Benchmarks, run by hand; they print ratios against a reference measured in the same run."""
