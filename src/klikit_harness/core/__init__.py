"""The domain core: pure Python, no HTTP, no I/O, injectable clock.

Modules: ``schedules`` and ``menus`` (the oracle), ``world`` (state and the
eight operations), ``credentials``, ``idempotency``, ``ratelimit``,
``defects``, ``seed``, ``service`` (the API as a pure function) and
``build`` (a service over a seeded world).
"""
