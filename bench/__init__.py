"""Benchmarks: each module measures one hot path against a baseline taken in the same run."""
