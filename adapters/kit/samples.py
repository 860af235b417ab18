"""The synthetic sample payloads an adapter package ships in its ``samples/`` folder."""

from __future__ import annotations

from importlib import resources


def packaged_samples(package: str, suffix: str, folder: str = "samples") -> list[tuple[str, bytes]]:
    """Every file of ``<package>/<folder>`` whose name ends with ``suffix``, as ``(file name, bytes)`` sorted by
    name (subfolders are not read: ``samples/lifecycle`` is a sample set of its own). Raises only when the
    installed package is broken (no such folder)."""
    files = resources.files(package).joinpath(*folder.split("/"))
    found = [(e.name, e.read_bytes()) for e in files.iterdir() if e.is_file() and e.name.endswith(suffix)]
    return sorted(found)
