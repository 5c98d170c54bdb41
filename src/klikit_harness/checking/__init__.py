"""Checking a target: the run's settings, the target under test, and the oracle's vocabulary.

``config`` and ``profiles`` (what the run is told), ``safety`` (the guard every
request passes), ``target`` and ``freshstores`` (the target under test),
``failures`` and ``observations`` (how a departure is stated and judged),
``expect`` (the contract suite's expectations), ``context``, ``verdicts``,
``checks`` and ``fuzz_hooks`` (the fuzz oracle: the run's context, the
verdict a request deserves, the checks of an answer, and Schemathesis' hooks),
``strategies`` (Hypothesis strategies). Imports everything below; never the runner.
"""
