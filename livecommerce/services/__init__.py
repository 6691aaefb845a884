"""Use cases: domain rules combined with ports. Async, and free of framework types."""
