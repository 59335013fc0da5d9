"""Pure billing rules: no I/O, unit-tested directly."""
