"""The transparency log: RFC 9162 Merkle trees, signed notes and checkpoints, proofs (no crx state)."""
