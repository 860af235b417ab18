"""C2SP signed notes (Ed25519), tlog checkpoints and tlog proofs: text formats, strict parsing, no I/O.

Specifications followed:

- c2sp.org/signed-note: a note is its text (ending in a newline), a blank line, then one or more lines
  ``— <key name> <base64(4-byte key id || signature)>``. Only Ed25519 (signature type ``0x01``) is
  implemented; key id = ``SHA-256(name || 0x0A || 0x01 || 32-byte public key)[:4]``. Verifiers ignore lines
  whose (name, key id) pair is not known, check every line whose pair is known, reject the whole note if a
  known signature fails (or a known key signs twice), and require at least one valid known signature.
  Notes are UTF-8 without ASCII control characters other than newline, at most ``MAX_NOTE_BYTES`` bytes and
  ``MAX_SIGNATURES`` signature lines (the spec asks for at least 16).
- Verifier keys use the golang.org/x/mod/sumdb/note text form ``<name>+<hex key id>+<base64(0x01 || key)>``,
  and the key id in it must match the one computed from name and key.
- c2sp.org/tlog-checkpoint: the note text is the origin (non-empty), the tree size (ASCII decimal without
  leading zeros), the base64 root hash (32 bytes) and optional non-empty extension lines, each line ending
  in a newline.
- c2sp.org/tlog-proof (``c2sp.org/tlog-proof@v1``): the header line, an optional ``extra <base64>`` line,
  ``index <n>``, the inclusion path one base64 hash per line from the leaf's sibling up, an empty line, and
  the signed checkpoint note verbatim. ``tlog_proof`` carries the optional ``leaf`` bytes in the ``extra``
  line (the spec's "data necessary to reconstruct the record hash"); it is not authenticated.

Base64 is the RFC 4648 section 4 standard alphabet with padding, decoded strictly (canonical form only).
Every malformed or unverifiable input raises ``NoteError``; messages never contain note content.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from services.kernel.errors import CrxError
from services.translog.merkle import HASH_SIZE, verify_inclusion

__all__ = [
    "ALG_ED25519",
    "MAX_NOTE_BYTES",
    "MAX_SIGNATURES",
    "TLOG_PROOF_HEADER",
    "Checkpoint",
    "NoteError",
    "NoteSigner",
    "NoteVerifier",
    "TlogProof",
    "checkpoint_text",
    "key_id",
    "open_note",
    "parse_checkpoint",
    "parse_tlog_proof",
    "parse_tlog_proof_with_extra",
    "sign_note",
    "tlog_proof",
    "verify_tlog_proof",
]

ALG_ED25519 = 0x01
MAX_NOTE_BYTES = 1 << 20
MAX_SIGNATURES = 100
MAX_TREE_SIZE = (1 << 64) - 1
TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"

_SIG_PREFIX = "\u2014 "  # em dash, space
_DECIMAL = re.compile(r"0|[1-9][0-9]*", re.ASCII)
_HEX_KEY_ID = re.compile(r"[0-9a-f]{8}", re.ASCII)
_ED25519_SIG_SIZE = 64


class NoteError(CrxError, dead_letter=False, reason_code="NOTE"):
    """A note, checkpoint, key string or tlog proof is malformed, or a note's signatures do not verify."""


# ----------------------------------------------------------------------------------------------- helpers


def _b64decode(text: str, what: str) -> bytes:
    """Strict standard base64: alphabet and padding checked, only the canonical encoding accepted."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise NoteError(f"{what} is not valid base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise NoteError(f"{what} is not canonical base64")
    return raw


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _check_chars(text: str, what: str) -> None:
    """UTF-8 encodable, no ASCII control character other than newline."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteError(f"{what} is not valid UTF-8") from None
    if any(c < " " and c != "\n" for c in text):
        raise NoteError(f"{what} contains a control character")


def _check_key_name(name: str) -> None:
    """Key names are non-empty, with no Unicode space, no plus and no control character."""
    if not name or "+" in name or any(c.isspace() or c < " " for c in name):
        raise NoteError("invalid key name")


def _parse_decimal(text: str, what: str, limit: int = MAX_TREE_SIZE) -> int:
    if not _DECIMAL.fullmatch(text) or int(text) > limit:
        raise NoteError(f"{what} is not a canonical decimal")
    return int(text)


def key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte Ed25519 note key id: ``SHA-256(name || 0x0A || 0x01 || public_key)[:4]``."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


# ------------------------------------------------------------------------------------------- checkpoints


@dataclass(frozen=True)
class Checkpoint:
    """A tlog checkpoint body. Construction validates it and raises ``NoteError`` if it cannot be written.

    ``origin`` and every extension line are non-empty, without control characters; ``0 <= size < 2**64``;
    ``root`` is ``HASH_SIZE`` bytes.
    """

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin:
            raise NoteError("checkpoint origin is empty")
        _check_chars(self.origin, "checkpoint origin")
        if "\n" in self.origin:
            raise NoteError("checkpoint origin contains a newline")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise NoteError("checkpoint size out of range")
        if len(self.root) != HASH_SIZE:
            raise NoteError("checkpoint root has the wrong length")
        for line in self.extensions:
            _check_chars(line, "checkpoint extension")
            if not line or "\n" in line:
                raise NoteError("checkpoint extension lines must be single non-empty lines")


def checkpoint_text(cp: Checkpoint) -> str:
    """The note text of a checkpoint: ``origin\\nsize\\nbase64(root)\\n`` then one line per extension."""
    return "".join(f"{line}\n" for line in (cp.origin, str(cp.size), _b64(cp.root), *cp.extensions))


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse checkpoint note text (not a signed note: pass ``open_note``'s result).

    Strict: the text ends in a newline; at least three lines; the size is ASCII decimal without leading
    zeros; the root is canonical base64 of exactly 32 bytes; extension lines are non-empty. The result
    satisfies ``checkpoint_text(parse_checkpoint(t)) == t``. Raises ``NoteError`` otherwise.
    """
    _check_chars(text, "checkpoint")
    if not text.endswith("\n"):
        raise NoteError("checkpoint does not end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError("checkpoint has fewer than three lines")
    origin, size, root, *extensions = lines
    return Checkpoint(
        origin=origin,
        size=_parse_decimal(size, "checkpoint size"),
        root=_b64decode(root, "checkpoint root"),
        extensions=tuple(extensions),
    )


# ---------------------------------------------------------------------------------------- signers / keys


@dataclass(frozen=True)
class NoteSigner:
    """An Ed25519 note signing key under a key name. Raises ``NoteError`` on an invalid name."""

    name: str
    private_key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        _check_key_name(self.name)

    @property
    def public_key_bytes(self) -> bytes:
        """The raw 32-byte public key."""
        return _raw_public(self.private_key.public_key())

    @property
    def key_id(self) -> bytes:
        """The 4-byte key id (see ``key_id``)."""
        return key_id(self.name, self.public_key_bytes)

    def verifier_key(self) -> str:
        """The verifier key string ``name+hex(key id)+base64(0x01 || public key)``."""
        return self.verifier().vkey()

    def verifier(self) -> NoteVerifier:
        """The matching verifier."""
        return NoteVerifier(self.name, self.key_id, self.private_key.public_key())

    def signature_line(self, text: str) -> str:
        """``— name base64(key id || Ed25519(text))`` with its newline."""
        sig = self.private_key.sign(text.encode("utf-8"))
        return f"{_SIG_PREFIX}{self.name} {_b64(self.key_id + sig)}\n"


@dataclass(frozen=True)
class NoteVerifier:
    """A known Ed25519 note key: name, 4-byte key id, public key. Raises ``NoteError`` if malformed."""

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey

    def __post_init__(self) -> None:
        _check_key_name(self.name)
        if len(self.key_id) != 4:
            raise NoteError("key id must be 4 bytes")

    @classmethod
    def from_public_key(cls, name: str, public_key: Ed25519PublicKey) -> NoteVerifier:
        """A verifier whose key id is computed from name and key."""
        return cls(name, key_id(name, _raw_public(public_key)), public_key)

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        """Parse ``name+hex8+base64(0x01 || 32-byte key)``; the key id must match name and key.

        Raises ``NoteError`` on any deviation (unknown algorithm, wrong lengths, upper-case hex, mismatch).
        """
        name, plus1, rest = vkey.partition("+")
        hex_id, plus2, b64 = rest.partition("+")
        if not (plus1 and plus2) or not _HEX_KEY_ID.fullmatch(hex_id):
            raise NoteError("malformed verifier key")
        _check_key_name(name)
        raw = _b64decode(b64, "verifier key")
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError("verifier key is not an Ed25519 note key")
        if key_id(name, raw[1:]) != bytes.fromhex(hex_id):
            raise NoteError("verifier key id does not match the key")
        return cls(name, bytes.fromhex(hex_id), Ed25519PublicKey.from_public_bytes(raw[1:]))

    def vkey(self) -> str:
        """The verifier key string ``name+hex(key id)+base64(0x01 || public key)``."""
        return f"{self.name}+{self.key_id.hex()}+{_b64(bytes([ALG_ED25519]) + _raw_public(self.public_key))}"

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (without key id) is a valid Ed25519 signature of ``text``."""
        if len(signature) != _ED25519_SIG_SIZE:
            return False
        try:
            self.public_key.verify(signature, text)
        except InvalidSignature:
            return False
        return True


# -------------------------------------------------------------------------------------------- signed notes


def _check_text(text: str) -> None:
    _check_chars(text, "note text")
    if not text.endswith("\n"):
        raise NoteError("note text does not end with a newline")


def sign_note(text: str, signers: Sequence[NoteSigner]) -> str:
    """``text + "\\n" +`` one signature line per signer, in order.

    Raises ``NoteError`` if there is no signer, if the text does not end in a newline or contains a control
    character, or if the note would exceed ``MAX_NOTE_BYTES`` or ``MAX_SIGNATURES``.
    """
    _check_text(text)
    if not signers or len(signers) > MAX_SIGNATURES:
        raise NoteError("a note needs between 1 and MAX_SIGNATURES signers")
    note = text + "\n" + "".join(s.signature_line(text) for s in signers)
    if len(note.encode("utf-8")) > MAX_NOTE_BYTES:
        raise NoteError("note too large")
    return note


def _split_note(note: str) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """Split a signed note into its text and its (name, key id, signature) lines, checking the structure."""
    _check_chars(note, "note")
    if len(note.encode("utf-8")) > MAX_NOTE_BYTES:
        raise NoteError("note too large")
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no signature block")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        raise NoteError("note signature block does not end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError("too many signatures")
    sigs: list[tuple[str, bytes, bytes]] = []
    for line in lines:
        if not line.startswith(_SIG_PREFIX):
            raise NoteError("malformed signature line")
        name, space, b64 = line[len(_SIG_PREFIX) :].partition(" ")
        if not space:
            raise NoteError("malformed signature line")
        _check_key_name(name)
        raw = _b64decode(b64, "signature")
        if len(raw) < 5:
            raise NoteError("signature too short")
        sigs.append((name, raw[:4], raw[4:]))
    return text, sigs


def open_note(note: str, verifiers: Sequence[NoteVerifier]) -> str:
    """Verify a signed note against known keys and return its text (ending in a newline).

    Lines whose (name, key id) pair matches no verifier are ignored (after a structural check). Every line
    from a known key must verify, a known key may sign only once, and at least one known signature is
    required; otherwise, or if the note is malformed, too large or has too many signature lines, raises
    ``NoteError``.
    """
    text, sigs = _split_note(note)
    known = {(v.name, v.key_id): v for v in verifiers}
    message = text.encode("utf-8")
    seen: set[tuple[str, bytes]] = set()
    for name, kid, sig in sigs:
        verifier = known.get((name, kid))
        if verifier is None:
            continue
        if (name, kid) in seen:
            raise NoteError("a known key signed the note twice")
        seen.add((name, kid))
        if not verifier.verify(message, sig):
            raise NoteError("note signature does not verify")
    if not seen:
        raise NoteError("note has no signature from a known key")
    return text


# --------------------------------------------------------------------------------------------- tlog proofs


class TlogProof(NamedTuple):
    """A parsed ``c2sp.org/tlog-proof@v1``: leaf index, inclusion path, signed checkpoint note (verbatim).

    Unpacks as ``index, proof, signed_checkpoint`` (the field is ``leaf_index``: ``tuple.index`` is taken).
    """

    leaf_index: int
    proof: tuple[bytes, ...]
    signed_checkpoint: str


def tlog_proof(index: int, leaf: bytes | None, proof: Sequence[bytes], signed_checkpoint: str) -> str:
    """Encode a ``c2sp.org/tlog-proof@v1``; ``leaf`` (if not ``None``) goes, unauthenticated, in ``extra``.

    Raises ``NoteError`` on a negative index, a proof hash that is not 32 bytes, or a ``signed_checkpoint``
    that is not structurally a signed note over checkpoint text (signatures are not verified here).
    """
    if not 0 <= index <= MAX_TREE_SIZE:
        raise NoteError("tlog proof index out of range")
    if any(len(h) != HASH_SIZE for h in proof):
        raise NoteError("tlog proof hash has the wrong length")
    text, _ = _split_note(signed_checkpoint)
    parse_checkpoint(text)
    head = [TLOG_PROOF_HEADER]
    if leaf is not None:
        head.append(f"extra {_b64(leaf)}")
    head.append(f"index {index}")
    head.extend(_b64(h) for h in proof)
    return "".join(f"{line}\n" for line in head) + "\n" + signed_checkpoint


def parse_tlog_proof_with_extra(text: str) -> tuple[TlogProof, bytes | None]:
    """Parse a ``c2sp.org/tlog-proof@v1`` strictly; also return the decoded ``extra`` data, if present.

    The embedded checkpoint must be structurally a signed note over valid checkpoint text; its signatures
    are not verified (see ``verify_tlog_proof``). Raises ``NoteError`` on any deviation.
    """
    header, sep, rest = text.partition("\n")
    if header != TLOG_PROOF_HEADER or not sep:
        raise NoteError("not a c2sp.org/tlog-proof@v1")
    extra: bytes | None = None
    line, sep, rest = rest.partition("\n")
    if line.startswith("extra "):
        extra = _b64decode(line[len("extra ") :], "tlog proof extra")
        line, sep, rest = rest.partition("\n")
    if not line.startswith("index ") or not sep:
        raise NoteError("tlog proof has no index line")
    index = _parse_decimal(line[len("index ") :], "tlog proof index")
    hashes: list[bytes] = []
    while True:
        line, sep, rest = rest.partition("\n")
        if not sep:
            raise NoteError("tlog proof has no checkpoint")
        if not line:
            break
        digest = _b64decode(line, "tlog proof hash")
        if len(digest) != HASH_SIZE:
            raise NoteError("tlog proof hash has the wrong length")
        hashes.append(digest)
    note_text, _ = _split_note(rest)
    parse_checkpoint(note_text)
    return TlogProof(index, tuple(hashes), rest), extra


def parse_tlog_proof(text: str) -> TlogProof:
    """Parse a ``c2sp.org/tlog-proof@v1`` into (index, proof hashes, signed checkpoint); see ``..._with_extra``."""
    return parse_tlog_proof_with_extra(text)[0]


def verify_tlog_proof(text: str, leaf_hash: bytes, verifiers: Sequence[NoteVerifier], origin: str) -> Checkpoint:
    """Verify a tlog proof for ``leaf_hash``: checkpoint signed by a known key, expected origin, inclusion.

    Returns the verified checkpoint. Raises ``NoteError`` for a bad note, signature or origin and
    ``merkle.ProofError`` if the inclusion proof does not verify against the checkpoint root.
    """
    parsed = parse_tlog_proof(text)
    cp = parse_checkpoint(open_note(parsed.signed_checkpoint, verifiers))
    if cp.origin != origin:
        raise NoteError("checkpoint origin is not the expected log")
    verify_inclusion(leaf_hash, parsed.leaf_index, cp.size, parsed.proof, cp.root)
    return cp
