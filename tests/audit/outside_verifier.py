"""A sender's verifier of crx's evidence, written from the specifications alone: no crx code.

What a national registry would run on the status answer of its submission, with the log's verifier key it
pinned out of band: RFC 9162 leaf hash and inclusion-path folding (section 2.1.3.2), the C2SP signed-note
format (key name, 4-byte key id, Ed25519 signature over the note text) and the C2SP tlog-checkpoint body
(origin, size, base64 root). Only hashlib, base64, fastavro and ``cryptography`` are used, so a bug in crx's
own proof code (``services/translog``) cannot hide here. ``test_outside_verifier`` pins it to published
vectors first (transparency-dev/merkle inclusion proofs, the C2SP example note).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import fastavro
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

SCHEMA = Path(__file__).parents[2] / "schemas" / "audit_event.avsc"


class Rejected(Exception):
    """The evidence does not prove what it claims."""


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def root_from_inclusion_path(index: int, size: int, leaf_hash: bytes, path: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.3.2, step by step: the root that ``path`` leads ``leaf_hash`` to."""
    if index >= size or any(len(h) != 32 for h in (leaf_hash, *path)):
        raise Rejected("leaf index beyond the tree, or not SHA-256 hashes")
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:
            raise Rejected("inclusion path too long")
        if fn & 1 or fn == sn:
            r = _sha256(b"\x01" + p + r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = _sha256(b"\x01" + r + p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise Rejected("inclusion path too short")
    return r


def open_signed_note(note: str, vkey: str) -> str:
    """The text of a C2SP signed note, once an Ed25519 signature by ``vkey`` (``name+hex id+base64(0x01||key)``)
    on it verifies. Raises Rejected (or cryptography's InvalidSignature) otherwise."""
    if not isinstance(note, str) or "\n\n" not in note:
        raise Rejected("not a signed note")
    name, key_id_hex, key_b64 = vkey.split("+", 2)  # base64 may hold "+"
    raw = base64.b64decode(key_b64, validate=True)
    if len(raw) != 33 or raw[0] != 0x01:
        raise Rejected("not an Ed25519 note key")
    key_id = _sha256(name.encode() + b"\n\x01" + raw[1:])[:4]
    if key_id.hex() != key_id_hex:
        raise Rejected("key id does not match the key")
    split = note.rindex("\n\n")
    text, signatures = note[: split + 1], note[split + 2 :].splitlines()
    for line in signatures:  # "— <key name> <base64(4-byte key id || signature)>"
        signer, _, sig_b64 = line.removeprefix("\u2014 ").partition(" ")
        if not line.startswith("\u2014 ") or signer != name:
            continue
        sig = base64.b64decode(sig_b64, validate=True)
        if sig[:4] == key_id:
            Ed25519PublicKey.from_public_bytes(raw[1:]).verify(sig[4:], text.encode())
            return text
    raise Rejected("no signature by this key")


def verified_leaf(evidence: dict[str, Any], checkpoint_note: str, vkey: str, origin: str) -> bytes:
    """The leaf bytes of ``evidence`` once its inclusion path leads to the root of the checkpoint signed by
    ``vkey`` for ``origin``, of the size the evidence states. Raises Rejected otherwise."""
    origin_line, size_line, root_line, *_ = open_signed_note(checkpoint_note, vkey).split("\n")
    if origin_line != origin or int(size_line) != evidence["tree_size"]:
        raise Rejected("the checkpoint is not the log's, or not of this size")
    leaf = base64.b64decode(evidence["leaf"], validate=True)
    path = [base64.b64decode(h, validate=True) for h in evidence["inclusion_proof"]]
    root = root_from_inclusion_path(evidence["leaf_index"], evidence["tree_size"], _sha256(b"\x00" + leaf), path)
    if root != base64.b64decode(root_line, validate=True):
        raise Rejected("the path does not lead to the signed root")
    return leaf


def decode_event(leaf: bytes) -> dict[str, Any]:
    """An audit event from its Avro single-object encoding (C3 01, CRC-64-AVRO fingerprint, body), with
    fastavro and the published schema. Raises Rejected for another schema's bytes."""
    schema = fastavro.parse_schema(json.loads(SCHEMA.read_text()))
    canonical = fastavro.schema.to_parsing_canonical_form(schema)
    if leaf[:2] != b"\xc3\x01" or leaf[2:10] != bytes.fromhex(fastavro.schema.fingerprint(canonical, "CRC-64-AVRO")):
        raise Rejected("not an audit event")
    event = fastavro.schemaless_reader(io.BytesIO(leaf[10:]), schema, schema)
    if not isinstance(event, dict):
        raise Rejected("not a record")
    return event
