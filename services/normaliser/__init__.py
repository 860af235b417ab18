"""Normaliser: feed topics -> adapter -> canonical records sealed to the broker on ``crx.records``."""
