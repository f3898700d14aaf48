"""Verification: what an inbound request carries, checked in the order PROFILE.md fixes."""

from ..replay import MemoryReplayCache, ReplayCache
from .dag import DagMode, TaskRef, TaskStore, check_dag
from .pipeline import RequestVerifier, VerifiedRequest
from .request import InboundRequest, RequestTokens

__all__ = [
    "DagMode",
    "InboundRequest",
    "MemoryReplayCache",
    "ReplayCache",
    "RequestTokens",
    "RequestVerifier",
    "TaskRef",
    "TaskStore",
    "VerifiedRequest",
    "check_dag",
]
