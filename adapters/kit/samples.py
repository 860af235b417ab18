"""The synthetic sample payloads an adapter package ships in its ``samples/`` folder."""

from __future__ import annotations

from importlib import resources


def packaged_samples(package: str, suffix: str) -> list[tuple[str, bytes]]:
    """Every file of ``<package>/samples`` whose name ends with ``suffix``, as ``(file name, bytes)`` sorted by
    name. Raises only when the installed package is broken (no ``samples`` folder)."""
    folder = resources.files(package).joinpath("samples")
    found = [(e.name, e.read_bytes()) for e in folder.iterdir() if e.is_file() and e.name.endswith(suffix)]
    return sorted(found)
