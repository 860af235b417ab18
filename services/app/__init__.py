"""The composition root: the one table of crx's services, and running one of them as a process."""
