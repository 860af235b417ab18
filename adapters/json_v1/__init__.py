"""The ``json-v1`` adapter: the ``crx-json/1`` feed of a modern national API (see README.md in this folder).

``parser.JsonV1Adapter`` is the entry point; ``document`` decodes the JSON strictly, ``fields`` reads typed
fields with their paths, ``values`` parses dates, durations and amounts, ``adapters.kit.codes`` loads the
per-jurisdiction code tables, ``person`` and ``convictions`` build the canonical sections.
"""
