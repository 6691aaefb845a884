"""Redis adapters for many nodes, all on the one connection pool of ``client.py``."""
