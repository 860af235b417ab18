"""crx runtime: the kernel and the services composed on it."""
