"""The project's benchmarks: `make bench` (see bench/README.md)."""
