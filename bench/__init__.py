"""or_magic's benchmark harness (see bench/run.py and bench/README.md)."""
