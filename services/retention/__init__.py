"""Retention of crx's own copies: every place crx keeps national data on its own disks, and the purge of what is
past its period (``run.py``), on demand (``crx retention run``) and periodically in the intake service
(``task.py``). The README's Retention section has the table of what each store keeps and for how long."""
