"""The kernel: configuration, Kafka I/O, codec, envelope crypto, keys, observability, lifecycle.

Nothing in this package imports from any other part of ``services``.
"""
