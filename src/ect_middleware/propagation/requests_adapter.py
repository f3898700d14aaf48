"""A requests adapter that propagates execution context.

session = instrument_session(requests.Session())   # or session.mount(prefix, ECTAdapter())

Mounted on a peer's prefix only, a redirect away from the peer is sent by another adapter:
our tokens are taken off before that (see ``outbound.after``).
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any, cast

import requests
from requests.adapters import HTTPAdapter

from . import outbound


def send_with_context(
    request: requests.PreparedRequest, send: Callable[[requests.PreparedRequest], requests.Response]
) -> requests.Response:
    body = request.body.encode("utf-8") if isinstance(request.body, str) else request.body
    # A file or generator body is not hashed into inp_hash.
    hashed = body if isinstance(body, bytes) and body else None
    headers = cast("MutableMapping[str, str]", request.headers)
    injection = outbound.before(request, str(request.url), headers, hashed)
    response = send(request)
    outbound.after(
        injection,
        list(response.headers.items()),
        status=response.status_code,
        request_headers=headers,
    )
    return response


class ECTAdapter(HTTPAdapter):
    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        return send_with_context(
            request, lambda r: super(ECTAdapter, self).send(r, *args, **kwargs)
        )


def instrument_session(session: requests.Session) -> requests.Session:
    """Mount ``ECTAdapter`` for http and https, keeping the existing adapters' retry policy."""
    for prefix in ("http://", "https://"):
        current = session.adapters.get(prefix)
        if not isinstance(current, ECTAdapter):
            session.mount(prefix, ECTAdapter(max_retries=getattr(current, "max_retries", 0)))
    return session
