"""The ``fixed-width`` adapter: ``crx-fw/01`` batches, a legacy mainframe export of a national criminal
register (see README.md in this folder).

``parser.FixedWidthAdapter`` is the entry point; ``layout`` is the copybook (record types, columns),
``batch`` checks the envelope (line lengths, header, trailer count and CRC-32, encoding), ``fields`` reads
typed fields with their line and columns, ``person`` and ``convictions`` build the canonical sections and
``records`` assembles the detail records of each register record into one canonical record.
"""
