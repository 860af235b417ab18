"""Test vectors kept as data: the long tables of bad fields in ``tests/adapters/data/*.json``.

A vector file is ``{"about": "<what its cases are>", "cases": [{"<key>": <value>, ...}, ...]}``, one case per
line; its keys are the argument names of the test that reads it. JSON holds what the tables need as it is
(strings with escapes for invisible characters, integers, floats, booleans, lists), and a new case is one more
line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name("data")


def cases(name: str, *keys: str, absent: object = None) -> list[tuple[Any, ...]]:
    """The cases of ``data/<name>`` as tuples of the values of ``keys``, in that order, for
    ``pytest.mark.parametrize(keys, ...)``: ``absent`` where a case leaves a key out. Raises ValueError for a
    case with a key outside ``keys``."""
    document = json.loads((DATA / name).read_text("utf-8"))
    for case in document["cases"]:
        if unknown := set(case) - set(keys):  # a misspelt key would leave its value out unseen
            raise ValueError(f"{name}: a case with keys {sorted(unknown)} outside {list(keys)}: {case}")
    return [tuple(case.get(key, absent) for key in keys) for case in document["cases"]]
