"""Outbound propagation: this hop's ECT, WPT and WIT on calls to peers, through transport
hooks (httpx, requests), and the peers' completion ECTs back (fan-in)."""

from .instrument import instrument, uninstrument
from .outbound import sent_task_id

__all__ = ["instrument", "sent_task_id", "uninstrument"]
