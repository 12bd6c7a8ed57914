"""Benchmarks: `make bench` (python -m bench). Numbers are printed and saved to bench/results/."""
