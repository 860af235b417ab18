"""Audit: crx.audit and crx.receipts -> an append-only, hash-chained, signed log."""
