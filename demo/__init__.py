"""The demo ISP: `python -m demo.load` loads it through the public APIs (see docs/demo.md)."""
