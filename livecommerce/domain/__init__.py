"""Pure domain rules: no I/O, no event loop, time and ids come in as arguments."""
