"""Replay caches: each token id is accepted once, until its token could no longer be
verified anyway. One contract (``ReplayCache``), several engines opened from a URL
(``ECT_REPLAY``) by ``open_replay_cache``."""

from .base import CallerQuota, ReplayCache
from .memory import MemoryReplayCache
from .open import open_replay_cache

__all__ = ["CallerQuota", "MemoryReplayCache", "ReplayCache", "open_replay_cache"]
