"""The dead-letter topic for operators: list and replay."""
