"""Keys: the key ring, its registry and private store, key lifecycle and public key bundles."""
