"""pbgrade's benchmarks: `python -m bench` (bench/__main__.py), `make bench`."""
