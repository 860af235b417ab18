"""The disclosure ledger: which version of which record went to which recipient, and until when."""
