"""The outside verifier (``outside_verifier.py``) itself, against published vectors: a verifier that accepted
anything would make the evidence tests pass for nothing."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature

from tests.audit.outside_verifier import Rejected, open_signed_note, root_from_inclusion_path

VECTORS = Path(__file__).parents[1] / "translog" / "vectors"
INCLUSION = sorted((VECTORS / "merkle" / "inclusion").rglob("*.json"))
# The example of c2sp.org/signed-note.
C2SP_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
C2SP_TEXT = "This is an example message.\n"
C2SP_SIG = "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM="


def _b(text: str | None) -> bytes:
    return base64.b64decode(text) if text else b""


def _check(v: dict[str, Any]) -> None:
    root = root_from_inclusion_path(v["leafIdx"], v["treeSize"], _b(v["leafHash"]), [_b(p) for p in v["proof"] or []])
    if root != _b(v["root"]):
        raise Rejected("another root")


@pytest.mark.parametrize("path", INCLUSION, ids=[str(p.relative_to(VECTORS)) for p in INCLUSION])
def test_inclusion_vectors(path: Path) -> None:
    """Every transparency-dev inclusion vector: the happy paths lead to their root, every wantErr case fails."""
    v = json.loads(path.read_text())
    if v["wantErr"]:
        with pytest.raises(Rejected):
            _check(v)
    else:
        _check(v)


def test_a_real_ct_log_path() -> None:
    """Google's Argon 2020 CT log: leaf 10000's audit path leads to its signed tree head's root."""
    argon = VECTORS / "argon2020"
    sth, proof = json.loads((argon / "sth.json").read_text()), json.loads((argon / "proof.json").read_text())
    leaf = base64.b64decode((argon / "leaf.b64").read_text().strip())
    path = [base64.b64decode(h) for h in proof["audit_path"]]
    root = root_from_inclusion_path(10000, sth["tree_size"], hashlib.sha256(b"\x00" + leaf).digest(), path)
    assert root == base64.b64decode(sth["sha256_root_hash"])


def test_the_c2sp_example_note() -> None:
    """The signed-note specification's example opens with its key; a changed text or another key does not."""
    note = f"{C2SP_TEXT}\n\u2014 example.com/foo {C2SP_SIG}\n"
    assert open_signed_note(note, C2SP_VKEY) == C2SP_TEXT
    with pytest.raises(InvalidSignature):
        open_signed_note(note.replace("example", "exemple", 1), C2SP_VKEY)
    with pytest.raises(Rejected):
        open_signed_note(note.replace("example.com/foo ", "example.com/bar "), C2SP_VKEY)
