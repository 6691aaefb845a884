"""Implementations of the service ports, chosen by configuration in ``app.py`` only."""
