"""The chaos suite: crx's services as separate processes under one fault at a time (issue 12).

``python -m tools.chaos`` (``make chaos``) runs, per fault and broker, a fresh deployment-shaped crx (the
broker operator's store and each partner's own store, keys exchanged by bundle; every service and partner
client a ``crx ... run`` / ``crx partner consume`` process), pushes a steady stream of records from DE and FR
over the intake's HTTP API and its drop directory, injects the fault at a random point of the stream, then
checks from the audit store, the partners' output directories and ``crx.receipts`` that every accepted
submission reached exactly one terminal state, nothing was duplicated and every service is healthy again
within a bounded time. It prints one table row per fault.

Modules: ``parties`` (key stores and tokens), ``brokers`` (embedded Tansu or Apache Kafka), ``postgres``
(a throw-away PostgreSQL audit store), ``processes`` (the crx processes), ``load`` (the record stream),
``faults``, ``settle`` (the checks), ``table`` (rows, rendering, JSON), ``run`` (one row).
"""
