"""Everything the tests share, one module per job.

- ``clock``: the fixed instant ``NOW`` and the clocks that stand at it (or move).
- ``paths``: where the source, the examples and the test artifacts are.
- ``mesh``: development identities of four workloads in two trust domains, signing through
  the public test plugin (``ect_middleware.testing``).
- ``tokens``: one trust domain for the token-layer tests, and ``forge`` for hostile tokens.
- ``apps``: small Starlette and Flask apps behind the middlewares.
- ``stacks``: such an app in-process (``asgi``, ``wsgi``) or under a real server
  (``uvicorn``, ``waitress``), with a client.
- ``servers``: real servers on loopback (uvicorn, waitress, a stranger on another host).
- ``replicas``: replicas of one service behind one public URL.
- ``examples``: the example services of ``examples/``, loaded with a given environment.
- ``ledger``: realistic ledger entries, and what a ledger recorded.
- ``workers``: targets for ``spawn``-ed processes that hammer a ledger.
- ``services``: the external services (PostgreSQL, Redis) of ``tests/external``.
- ``cli``: the real ``ect`` command line in a fresh interpreter.

Fixtures shared by several folders are in ``tests/conftest.py``; a folder's ``conftest.py``
holds only its own. Helpers that serve one folder only stay next to it (``_support.py``,
the hardening suite's ``_*.py``).
"""
