"""Tests of the feed adapters: the json-v1 adapter and the conformance suite every adapter must pass."""
