"""Development-only pieces: the whole pipeline in one process, the demo, the embedded broker."""
