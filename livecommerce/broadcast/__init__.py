"""Broadcast (media) plane: WHIP ingest, encode-once WebRTC fan-out (WHEP), HLS and replay.

Owns every peer connection, encoder and packager thread of the process. Submodules import aiortc
and PyAV; this package's ``setup(app)`` is the one call the app factory makes to plug it in.
"""
