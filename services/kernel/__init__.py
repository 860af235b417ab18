"""The kernel: configuration, Kafka I/O, codec, envelope crypto, keys, observability, lifecycle.

Nothing in this package imports from any other part of ``services`` but the key ring (``services.keys``) and
the RFC 9162 hashing of ``services.translog.merkle``, which batch signatures (``batchauth``) share with the
audit log.
"""
