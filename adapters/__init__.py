"""Feed adapters: pure parsers from national payloads to canonical crx records."""
