"""Port implementations chosen by configuration; only app.py picks concrete ones."""
