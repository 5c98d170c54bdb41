"""The runner: the command line, the pytest plugin and what they produce.

``cli``, ``plugin`` (beside it ``session`` and ``outcomes``), ``report``, ``results`` (``results.json``),
``doctor``, ``mutants`` (mutants and variants),
``reproduce``, ``drift`` and ``exits`` (the exit codes). The top layer: it may
import every layer, and none imports it.
"""
