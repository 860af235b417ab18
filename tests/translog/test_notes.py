"""C2SP signed notes, checkpoints and tlog proofs: the published example, round trips and strict parsing."""

from __future__ import annotations

import base64
import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from services.kernel.errors import CrxError
from services.translog.merkle import ProofError, appended_nodes, inclusion_proof, leaf_hash, root
from services.translog.notes import (
    MAX_NOTE_BYTES,
    MAX_SIGNATURES,
    Checkpoint,
    NoteError,
    NoteSigner,
    NoteVerifier,
    TlogProof,
    checkpoint_text,
    key_id,
    open_note,
    parse_checkpoint,
    parse_tlog_proof,
    parse_tlog_proof_with_extra,
    sign_note,
    tlog_proof,
    verify_tlog_proof,
)

# The worked example of c2sp.org/signed-note (see tests/translog/vectors/NOTICE.md).
EXAMPLE_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
EXAMPLE_TEXT = "This is an example message.\n"
EXAMPLE_SIG = "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM="
EXAMPLE_NOTE = f"{EXAMPLE_TEXT}\n\u2014 example.com/foo {EXAMPLE_SIG}\n"

ROOT = bytes(range(32))
ROOT_B64 = base64.b64encode(ROOT).decode()


def _signer(name: str, seed: int) -> NoteSigner:
    return NoteSigner(name, Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32))


# ------------------------------------------------------------------------------------ published example


def test_example_note_verifies() -> None:
    """The C2SP example note opens with the example verifier key and yields its text."""
    verifier = NoteVerifier.from_vkey(EXAMPLE_VKEY)
    assert verifier.name == "example.com/foo"
    assert verifier.key_id.hex() == "530d903a"
    assert verifier.vkey() == EXAMPLE_VKEY
    assert open_note(EXAMPLE_NOTE, [verifier]) == EXAMPLE_TEXT


def test_example_note_fails_after_any_text_change() -> None:
    """Changing any character of the example text (or dropping or adding one) makes the note fail."""
    verifier = NoteVerifier.from_vkey(EXAMPLE_VKEY)
    for i, c in enumerate(EXAMPLE_TEXT):
        for text in (
            EXAMPLE_TEXT[:i] + ("X" if c != "X" else "Y") + EXAMPLE_TEXT[i + 1 :],
            EXAMPLE_TEXT[:i] + EXAMPLE_TEXT[i + 1 :],
            EXAMPLE_TEXT[:i] + " " + EXAMPLE_TEXT[i:],
        ):
            with pytest.raises(NoteError):
                open_note(text + EXAMPLE_NOTE[len(EXAMPLE_TEXT) :], [verifier])


def test_example_note_fails_after_any_signature_change() -> None:
    """Flipping any bit of the key id or signature, or changing the key name, makes the note fail."""
    verifier = NoteVerifier.from_vkey(EXAMPLE_VKEY)
    raw = base64.b64decode(EXAMPLE_SIG)
    for bit in range(len(raw) * 8):
        bad = bytearray(raw)
        bad[bit // 8] ^= 1 << (bit % 8)
        note = f"{EXAMPLE_TEXT}\n\u2014 example.com/foo {base64.b64encode(bytes(bad)).decode()}\n"
        with pytest.raises(NoteError):
            open_note(note, [verifier])
    with pytest.raises(NoteError):
        open_note(EXAMPLE_NOTE.replace("example.com/foo", "example.com/fob"), [verifier])
    with pytest.raises(NoteError):
        open_note(EXAMPLE_NOTE.replace(EXAMPLE_SIG, EXAMPLE_SIG[:-4]), [verifier])


def test_example_note_needs_a_known_key() -> None:
    """Without the example key among the verifiers the note is rejected."""
    with pytest.raises(NoteError) as info:
        open_note(EXAMPLE_NOTE, [_signer("example.com/foo", 1).verifier()])
    assert info.value.reason_code == "NOTE"
    assert isinstance(info.value, CrxError)
    with pytest.raises(NoteError):
        open_note(EXAMPLE_NOTE, [])


# --------------------------------------------------------------------------------------- sign and open


def test_sign_open_several_signers() -> None:
    """A note signed by several keys opens with any subset of their verifiers; unknown lines are ignored."""
    a, b, c = _signer("log.example/a", 1), _signer("witness.example/b", 2), _signer("other.example/c", 3)
    text = "crx audit\n42\nsome line\n"
    note = sign_note(text, [a, b, c])
    assert note.startswith(text + "\n\u2014 log.example/a ")
    assert note.count("\n\u2014 ") == 3
    for verifiers in ([a], [b], [c], [a, b], [a, b, c], [c, a]):
        assert open_note(note, [s.verifier() for s in verifiers]) == text
    with pytest.raises(NoteError):
        open_note(note, [_signer("nobody.example", 9).verifier()])


def test_unknown_key_lines_ignored_even_if_name_or_id_collide() -> None:
    """A verifier with the same name but another key (other id) is unknown: its line is skipped, not failed."""
    log = _signer("log.example", 1)
    impostor = _signer("log.example", 2)
    note = sign_note("hello\n", [impostor, log])
    assert open_note(note, [log.verifier()]) == "hello\n"
    # Same key id, other name: also unknown.
    renamed = NoteVerifier("log.example2", log.key_id, log.private_key.public_key())
    with pytest.raises(NoteError):
        open_note(note, [renamed])


def test_known_key_with_bad_signature_rejects_note() -> None:
    """If a known key's line fails, the note is rejected even when another known key verifies."""
    a, b = _signer("a.example", 1), _signer("b.example", 2)
    note = sign_note("text\n", [a])
    forged = _signer("b.example", 3)
    forged_sig = base64.b64encode(b.key_id + forged.private_key.sign(b"text\n")).decode()
    bad_line = f"\u2014 b.example {forged_sig}\n"
    with pytest.raises(NoteError):
        open_note(note + bad_line, [a.verifier(), b.verifier()])
    assert open_note(note + bad_line, [a.verifier()]) == "text\n"


def test_known_key_twice_rejects_note() -> None:
    """A known key may not sign the same note twice."""
    a = _signer("a.example", 1)
    with pytest.raises(NoteError):
        open_note(sign_note("t\n", [a, a]), [a.verifier()])


@settings(max_examples=40, deadline=None)
@given(
    text=st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.just("\n"), max_size=200),
    names=st.lists(st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1), max_size=4),
)
def test_sign_open_round_trip(text: str, names: list[str]) -> None:
    """Any text ending in a newline signs and opens back to itself with each signer's verifier."""
    text += "\n"
    signers = [_signer(n.replace("+", "p") + "x", i + 1) for i, n in enumerate(names)]
    signers.append(_signer("log.example", 99))
    note = sign_note(text, signers)
    for s in signers:
        assert open_note(note, [s.verifier()]) == text
        assert NoteVerifier.from_vkey(s.verifier_key()).vkey() == s.verifier_key()


def test_sign_note_rejects_bad_input() -> None:
    """Signing needs a signer and text ending in a newline without control characters."""
    a = _signer("a.example", 1)
    for text in ("no newline", "", "tab\there\n", "cr\r\n", "\udc80\n"):
        with pytest.raises(NoteError):
            sign_note(text, [a])
    with pytest.raises(NoteError):
        sign_note("ok\n", [])
    with pytest.raises(NoteError):
        sign_note("x" * MAX_NOTE_BYTES + "\n", [a])
    for name in ("", "with space", "plus+sign", "nbsp\u00a0name", "line\nbreak"):
        with pytest.raises(NoteError):
            NoteSigner(name, Ed25519PrivateKey.generate())


def test_open_note_limits_and_structure() -> None:
    """Malformed notes, oversized notes and too many signature lines are rejected before any verification."""
    a = _signer("a.example", 1)
    note = sign_note("t\n", [a])
    sig_line = note[len("t\n\n") :]
    bad_notes = [
        "t\n" + sig_line,  # no blank line
        note[:-1],  # no final newline
        "t\n\n- a.example AAAAAAA=\n",  # not an em dash
        "t\n\n\u2014 a.example\n",  # no signature
        "t\n\n\u2014 a.example !!!!\n",  # bad base64
        "t\n\n\u2014 a.example AAAA\n",  # shorter than key id + 1
        "t\n\n\u2014 a.example " + sig_line.split(" ")[-1].rstrip("=\n") + "\n",  # missing padding
        note.replace("t\n", "t\x07\n", 1),  # control character
        note + "\n",  # trailing blank line
        "t\n" * (MAX_NOTE_BYTES // 2) + "\n" + sig_line,  # too large
        "t\n\n" + sig_line * (MAX_SIGNATURES + 1),  # too many signatures
    ]
    for bad in bad_notes:
        with pytest.raises(NoteError):
            open_note(bad, [a.verifier()])
    unknown = _signer("z.example", 5)
    many = sign_note("t\n", [unknown] * (MAX_SIGNATURES - 1) + [a])
    assert open_note(many, [a.verifier()]) == "t\n"


def test_verifier_key_strings() -> None:
    """Verifier keys round trip; ids, algorithms, lengths and encodings are checked."""
    s = _signer("log.example/crx", 7)
    vkey = s.verifier_key()
    name, hex_id, b64 = vkey.split("+", 2)
    assert name == "log.example/crx"
    assert bytes.fromhex(hex_id) == s.key_id == key_id(name, s.public_key_bytes)
    assert base64.b64decode(b64) == b"\x01" + s.public_key_bytes
    v = NoteVerifier.from_vkey(vkey)
    assert v.vkey() == vkey
    assert v == dataclasses.replace(v)
    other = _signer("log.example/crx", 8)
    wrong_alg = base64.b64encode(b"\x02" + s.public_key_bytes).decode()
    short_key = base64.b64encode(b"\x01" + s.public_key_bytes[:31]).decode()
    bad = [
        "",
        "log.example/crx",
        f"{name}+{hex_id}",
        f"{name}+{hex_id.upper()}+{b64}",
        f"{name}+{other.key_id.hex()}+{b64}",  # id of another key
        f"other+{hex_id}+{b64}",  # id does not match the name
        f"{name}+{hex_id}+{wrong_alg}",  # not Ed25519
        f"{name}+{hex_id}+{short_key}",
        f"{name}+{hex_id}+{b64}=",
        f"{name}+{hex_id}+{b64[:-1]}",
        f"+{hex_id}+{b64}",
    ]
    for text in bad:
        with pytest.raises(NoteError):
            NoteVerifier.from_vkey(text)


# ------------------------------------------------------------------------------------------ checkpoints


def test_checkpoint_round_trip() -> None:
    """Checkpoint text has origin, size, base64 root and extension lines, and parses back to the same value."""
    cp = Checkpoint("crx.example/audit", 20852163, ROOT, ("ext one", "ext two"))
    text = checkpoint_text(cp)
    assert text == f"crx.example/audit\n20852163\n{ROOT_B64}\next one\next two\n"
    assert parse_checkpoint(text) == cp
    empty = Checkpoint("crx.example/audit", 0, ROOT)
    assert parse_checkpoint(checkpoint_text(empty)) == empty
    signer = _signer("crx.example/audit", 4)
    note = sign_note(text, [signer])
    assert parse_checkpoint(open_note(note, [signer.verifier()])) == cp


def _checkpoint_text(origin: str = "o", size: str = "12", root: str = ROOT_B64) -> str:
    """A checkpoint's text, its lines as given (no extension): each default alone makes a valid checkpoint."""
    return f"{origin}\n{size}\n{root}\n"


BAD_SIZES = {
    "size-not-decimal": "12a",
    "size-negative": "-1",
    "size-plus": "+1",
    "size-space": " 1",
    "size-fullwidth-digit": "\uff11",
    "size-empty": "",
    "size-too-large": str(1 << 64),
    "leading-zero": "012",
    "double-zero": "00",
}
BAD_ROOTS = {
    "bad-base64": "!!!!",
    "unpadded-base64": ROOT_B64.rstrip("="),
    "non-canonical-base64": f"{ROOT_B64[:-2]}9=",
    "root-31-bytes": base64.b64encode(ROOT[:31]).decode(),
    "root-33-bytes": base64.b64encode(ROOT + b"x").decode(),
}


@pytest.mark.parametrize(
    "text",
    [
        *(pytest.param(_checkpoint_text(size=size), id=name) for name, size in BAD_SIZES.items()),
        pytest.param(_checkpoint_text().removesuffix("\n"), id="no-trailing-newline"),
        *(pytest.param(_checkpoint_text(root=root), id=name) for name, root in BAD_ROOTS.items()),
        pytest.param(_checkpoint_text(origin=""), id="empty-origin"),
        pytest.param("o\n12\n", id="two-lines"),
        pytest.param(f"{_checkpoint_text()}\n", id="empty-extension"),
        pytest.param(f"{_checkpoint_text()}ext\n\n", id="empty-extension-after-one"),
        pytest.param(_checkpoint_text(origin="o\r"), id="carriage-return"),
        pytest.param("", id="empty"),
    ],
)
def test_checkpoint_parse_is_strict(text: str) -> None:
    """Anything but the exact tlog-checkpoint form raises NoteError."""
    with pytest.raises(NoteError):
        parse_checkpoint(text)


def test_checkpoint_construction_is_validated() -> None:
    """A Checkpoint that could not be written as valid text cannot be constructed."""
    for kwargs in (
        {"origin": "", "size": 1, "root": ROOT},
        {"origin": "a\nb", "size": 1, "root": ROOT},
        {"origin": "o", "size": -1, "root": ROOT},
        {"origin": "o", "size": 1, "root": ROOT[:16]},
        {"origin": "o", "size": 1, "root": ROOT, "extensions": ("",)},
        {"origin": "o", "size": 1, "root": ROOT, "extensions": ("a\nb",)},
    ):
        with pytest.raises(NoteError):
            Checkpoint(**kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ tlog proofs


def _signed_tree(n: int, origin: str, signer: NoteSigner) -> tuple[list[bytes], dict[tuple[int, int], bytes], str]:
    leaves = [leaf_hash(f"event {i}".encode()) for i in range(n)]
    nodes: dict[tuple[int, int], bytes] = {}
    for level, index, h in appended_nodes(0, leaves, lambda level, index: nodes[(level, index)]):
        nodes[(level, index)] = h
    cp = Checkpoint(origin, n, root(n, lambda level, index: nodes[(level, index)]))
    return leaves, nodes, sign_note(checkpoint_text(cp), [signer])


def test_tlog_proof_round_trip_and_verify() -> None:
    """A tlog proof encodes index, path and signed checkpoint, parses back, and verifies the leaf."""
    signer = _signer("crx.example/audit", 11)
    leaves, nodes, note = _signed_tree(13, "crx.example/audit", signer)
    path = inclusion_proof(6, 13, lambda level, index: nodes[(level, index)])
    text = tlog_proof(6, None, path, note)
    lines = text.split("\n")
    assert lines[0] == "c2sp.org/tlog-proof@v1"
    assert lines[1] == "index 6"
    assert lines[2 : 2 + len(path)] == [base64.b64encode(h).decode() for h in path]
    assert lines[2 + len(path)] == ""
    assert text.endswith("\n\n" + note) or text.endswith("\n" + note)
    parsed = parse_tlog_proof(text)
    assert parsed == TlogProof(6, tuple(path), note)
    index, proof, signed = parsed
    assert (index, list(proof), signed) == (6, path, note)
    assert parse_tlog_proof_with_extra(text)[1] is None

    cp = verify_tlog_proof(text, leaves[6], [signer.verifier()], "crx.example/audit")
    assert cp.size == 13
    with pytest.raises(ProofError):
        verify_tlog_proof(text, leaves[5], [signer.verifier()], "crx.example/audit")
    with pytest.raises(NoteError):
        verify_tlog_proof(text, leaves[6], [signer.verifier()], "other.example/log")
    with pytest.raises(NoteError):
        verify_tlog_proof(text, leaves[6], [_signer("crx.example/audit", 12).verifier()], "crx.example/audit")


def test_tlog_proof_extra_and_empty_path() -> None:
    """The optional leaf travels in the extra line; a one-leaf tree has an empty path."""
    signer = _signer("crx.example/audit", 11)
    _, _, note = _signed_tree(1, "crx.example/audit", signer)
    text = tlog_proof(0, b"leaf bytes", [], note)
    assert text.split("\n")[:3] == [
        "c2sp.org/tlog-proof@v1",
        f"extra {base64.b64encode(b'leaf bytes').decode()}",
        "index 0",
    ]
    parsed, extra = parse_tlog_proof_with_extra(text)
    assert parsed == TlogProof(0, (), note)
    assert extra == b"leaf bytes"
    verify_tlog_proof(text, leaf_hash(b"event 0"), [signer.verifier()], "crx.example/audit")


def test_tlog_proof_parse_is_strict() -> None:
    """Wrong header, index form, hash lines, missing separator or a non-checkpoint note raise NoteError."""
    signer = _signer("crx.example/audit", 11)
    _, nodes, note = _signed_tree(5, "crx.example/audit", signer)
    path = inclusion_proof(2, 5, lambda level, index: nodes[(level, index)])
    good = tlog_proof(2, None, path, note)
    h = [base64.b64encode(x).decode() for x in path]
    body = "".join(f"{x}\n" for x in h)
    not_checkpoint = sign_note("not\na checkpoint\n", [signer])
    bad = [
        good.replace("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2"),
        good.replace("index 2", "index 02"),
        good.replace("index 2", "index -2"),
        good.replace("index 2", "index  2"),
        good.replace("index 2\n", ""),
        f"c2sp.org/tlog-proof@v1\nindex 2\n{body}{note}",  # no empty line
        f"c2sp.org/tlog-proof@v1\nindex 2\n{body}\n",  # no checkpoint
        f"c2sp.org/tlog-proof@v1\nindex 2\n{h[0][:-4]}\n{body}\n{note}",  # short hash
        f"c2sp.org/tlog-proof@v1\nindex 2\n{body}\nnot a note\n",
        f"c2sp.org/tlog-proof@v1\nextra !!\nindex 2\n{body}\n{note}",
        f"c2sp.org/tlog-proof@v1\nindex 2\n{body}\n{not_checkpoint}",
    ]
    for text in bad:
        with pytest.raises(NoteError):
            parse_tlog_proof(text)
    with pytest.raises(NoteError):
        tlog_proof(-1, None, path, note)
    with pytest.raises(NoteError):
        tlog_proof(2, None, [b"short"], note)
    with pytest.raises(NoteError):
        tlog_proof(2, None, path, "not a note\n")
