"""LiveCommerce: a self-hostable live-shopping server (broadcast, live hub, shop) in one process."""

__version__ = "0.1.0"
