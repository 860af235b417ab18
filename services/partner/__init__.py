"""The partner side: a library and client that verify, open, decode and acknowledge crx deliveries."""
