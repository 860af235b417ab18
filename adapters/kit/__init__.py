"""The adapter kit: what every feed format needs and no format owns.

Each module has one subject; adapters import the modules, never the other way round, and the kit imports
nothing from an adapter folder. Like the adapters, the kit is pure: no I/O beyond packaged data files, no
clock, no state that changes.

- ``errors``: the wording of a format's field errors (MISSING_FIELD, INVALID_VALUE) and the sender check.
- ``text``: free-text rules (blank, length, control characters) and fixed-syntax matching.
- ``countries``: ISO 3166-1 alpha-2 codes, assigned (``schemas/reference/countries.txt``) and well-formed.
- ``dates``, ``durations``, ``money``, ``languages``: the value syntaxes the formats share (ISO 8601 dates,
  timestamps and durations, decimal amounts, ISO 4217, 639-1 and 15924 codes) and the canonical shapes they
  produce; ``syntax`` binds them to one format's error wording.
- ``distinct``: "each value once" checks (nationalities, addressees, conviction ids).
- ``canonical``: builders of the canonical header, names and places (typed with ``schemas.records``), and
  ``as_written``, the code map of a format that writes the schema's enum symbols as they are.
- ``refs``: the crx offence and penalty categories of ``schemas/reference`` and the id of their version.
- ``codes``: the per-jurisdiction offence and sanction code tables (``<adapter>/mappings/<XX>.csv``).
- ``samples``: the synthetic sample payloads an adapter package ships.
- ``xmlsafe``: parsing untrusted XML (no DTD, no entities, bounded), and the namespace and local name of a
  tag; ``xmlprolog``: whether a document's prolog declares a document type, read from its bytes.
"""
