"""One module per scenario; each is run as ``python -m benchmarks.scenarios.<name>``."""
