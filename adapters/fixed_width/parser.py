"""``FixedWidthAdapter``: one ``crx-fw/01`` batch (a legacy mainframe export) -> many canonical records.

The format is documented in README.md next to this file. The adapter is pure: its only inputs are the
payload, the parse context and its packaged mapping tables, loaded once when it is constructed. A batch is
checked whole (lengths, header, trailer count and CRC-32, encoding) before any record is built, and any
error refuses the whole batch: there is never partial output.
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters.base import CanonicalRecord, ParseContext
from adapters.fixed_width.batch import read_batch
from adapters.fixed_width.records import assemble
from adapters.kit.codes import NO_TABLE, CodeTable, load_tables
from adapters.kit.samples import packaged_samples

PACKAGE = "adapters.fixed_width"
SAMPLE_SUFFIX = ".dat"


class FixedWidthAdapter:
    """The ``fixed-width`` adapter (registered under the entry-point group ``crx.adapters``)."""

    name = "fixed-width"

    def __init__(self, tables: Mapping[str, CodeTable] | None = None) -> None:
        self._tables = load_tables(PACKAGE) if tables is None else tables

    def parse(self, payload: bytes, ctx: ParseContext) -> list[CanonicalRecord]:
        """Parse one batch into its canonical records, in batch order (``[]`` for a batch without detail
        records). Raises AdapterError, and only that; the batch is then refused whole."""
        batch = read_batch(bytes(payload), ctx.jurisdiction)
        return assemble(batch, self._tables.get(batch.header.sender, NO_TABLE), ctx.received_at)

    def samples(self) -> list[tuple[str, bytes]]:
        """The packaged synthetic sample batches (``samples/*.dat``), sorted by file name."""
        return packaged_samples(PACKAGE, SAMPLE_SUFFIX)
