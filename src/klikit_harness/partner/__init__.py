"""The partner library: what a caller of the klikit Partner API needs.

``client`` (the reference client), ``errors`` (what it raises), ``exchange``
(one request and its answer, as every layer above records it), ``envelope``
(the envelope and 429 rules an answer is read by), ``basic`` (the Basic
``Authorization`` header, written and read back) and ``redact`` (the one
masker: secrets kept out of text). Imports the contract and, on first use, the core's constants;
never the stand-in, the checks or the runner.
"""
