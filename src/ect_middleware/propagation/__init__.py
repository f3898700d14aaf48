"""Outbound propagation: this hop's ECT, WPT and WIT on calls to peers, through transport
hooks (httpx, requests), and the peers' completion ECTs back (fan-in)."""

from .instrument import instrument, uninstrument

__all__ = ["instrument", "uninstrument"]
