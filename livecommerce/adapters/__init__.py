"""Implementations of the service ports, grouped by technology; only the composition root
(``bootstrap/adapters.py``) picks which ones a process gets."""
