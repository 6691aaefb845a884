"""In-process adapters for one node: the defaults when no Redis URL is configured."""
