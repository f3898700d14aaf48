"""Storage URLs (``ECT_LEDGER``, ``ECT_REPLAY``): which engine a URL names, and the parts
of a URL that several engines read alike.

A URL is ``scheme://...``; each opener keeps a table of its engines by scheme and asks
``engine_for`` which one a URL names. Messages name the scheme, never the URL, which may
hold a password; the opener that called turns them into a ``ConfigurationError`` naming
its setting (``config.setting``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TypeVar
from urllib.parse import SplitResult, parse_qsl, unquote, urlencode, urlsplit

_Engine = TypeVar("_Engine")


def engine_for(url: str, engines: Mapping[str, _Engine], what: str) -> tuple[_Engine, SplitResult]:
    """The engine of ``engines`` that ``url``'s scheme names (case-insensitive), and the
    parsed URL; ``ValueError`` naming ``what`` (e.g. "ledger") and the supported schemes."""
    scheme, separator, _ = url.partition("://")
    has_scheme = bool(separator) and scheme.isalnum()
    engine = engines.get(scheme.lower()) if has_scheme else None
    if engine is None:
        supported = ", ".join(f"{name}://" for name in engines)
        named = f"scheme {scheme!r}" if has_scheme else "URL"
        raise ValueError(f"unsupported {what} {named}; supported: {supported}")
    return engine, urlsplit(url)


def sqlite_path(url: SplitResult, what: str) -> str:
    """The file path of ``sqlite:///relative.db`` or ``sqlite:////absolute.db``
    (SQLAlchemy's convention: everything after the third slash, percent-decoded)."""
    if url.netloc:
        raise ValueError(
            f"a sqlite {what} URL has no host: use sqlite:///relative.db or sqlite:////abs.db"
        )
    path = unquote(url.path[1:])
    if not path:
        raise ValueError(f"the sqlite {what} URL has no file path: use sqlite:///path.db")
    return path


def options(url: SplitResult, known: Collection[str], what: str) -> dict[str, str]:
    """The URL's query options, each one of ``known``; an unknown one is refused by name."""
    found = dict(parse_qsl(url.query, keep_blank_values=True))
    unknown = sorted(found.keys() - set(known))
    if unknown:
        raise ValueError(f"unknown {what} option {unknown[0]!r}")
    return found


def driver_options(
    url: SplitResult, ours: Collection[str], defaults: Mapping[str, str]
) -> tuple[dict[str, str], str]:
    """The URL's options split in two: those of ``ours``, and the rest for the client
    library (libpq, redis-py) as a query string, with ``defaults`` for those not given."""
    given = parse_qsl(url.query, keep_blank_values=True)
    mine = {k: v for k, v in given if k in ours}
    rest = [(k, v) for k, v in given if k not in ours]
    names = {k for k, _ in rest}
    rest.extend((k, v) for k, v in defaults.items() if k not in names)
    return mine, urlencode(rest)
