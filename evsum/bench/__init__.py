"""``evsum bench``: indexing throughput against a naive pipeline and txtai, query latency over HTTP,
memory and cold start, written as ``bench.json`` plus a readable ``bench.md`` table.

Every speed is reported with a baseline measured in the same run (the machine is shared, so
absolute numbers drift; ratios hold).  ``--quick`` is small enough to run in CI in well under a
minute; the full mode adds the 100k and 1M passage sizes (synthetic vectors and text).
"""
