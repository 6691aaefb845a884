"""Use cases: domain rules combined with ports; async, no framework types."""
