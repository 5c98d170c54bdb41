"""The stand-ins: two adapters over the one domain core, and what shapes them.

``sandbox`` (the ASGI app behind ``klikit-harness sandbox`` and the embedded
target), ``simulator`` (the respx simulator with chaos on demand),
``cassettes`` (recorded answers: HAR files written and replayed) and ``twin``
(a target profile read back into variants). Imports the core, the contract and
the partner library; never the checks or the runner.
"""
