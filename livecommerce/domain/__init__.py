"""Pure rules of live commerce: no I/O, no clock, no randomness (a test enforces the imports)."""
