"""The signing key store: generate once, reload the same, rotate and prune, refuse broken files."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from psc_idp.keys import KeyStore, KeyStoreError, load_or_create_secret
from psc_idp.keys.store import KEYSET_FILE, SECRET_FILE

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi"}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("keys-seed")
    KeyStore.load_or_create(folder)
    return folder


@pytest.fixture
def folder(seeded: Path, tmp_path: Path) -> Path:
    """A copy of a generated key folder (RSA generation is the slow part)."""
    target = tmp_path / "keys"
    target.mkdir()
    for item in seeded.iterdir():
        (target / item.name).write_bytes(item.read_bytes())
        (target / item.name).chmod(stat.S_IMODE(item.stat().st_mode))
    return target


def _index(folder: Path) -> dict:
    return json.loads((folder / KEYSET_FILE).read_text())


def test_generate_on_first_start(tmp_path):
    folder = tmp_path / "new" / "keys"
    store = KeyStore.load_or_create(folder)
    index = _index(folder)
    assert len(index["keys"]) == 1
    entry = index["keys"][0]
    assert entry["kid"] == store.current.kid and entry["active"] is True
    assert entry["alg"] == "RS256"
    pem = folder / f"signing-{store.current.kid}.pem"
    assert pem.exists() and stat.S_IMODE(pem.stat().st_mode) == 0o600
    assert store.current.kid == RSAKey.import_key(pem.read_bytes()).thumbprint()
    jwks = store.jwks()
    assert len(jwks["keys"]) == 1
    published = jwks["keys"][0]
    assert published["kid"] == store.current.kid and published["kty"] == "RSA"
    assert published["alg"] == "RS256" and published["use"] == "sig"
    assert not PRIVATE_MEMBERS & set(published)
    modulus = base64.urlsafe_b64decode(published["n"] + "==")
    assert int.from_bytes(modulus, "big").bit_length() >= 2048


def test_reload_gives_the_same_kid(folder):
    first = KeyStore.load_or_create(folder)
    again = KeyStore.load_or_create(folder)
    assert again.current.kid == first.current.kid
    assert again.jwks() == first.jwks()
    assert len(list(folder.glob("signing-*.pem"))) == 1


def test_sign_and_verify(folder):
    store = KeyStore.load_or_create(folder)
    token = store.sign({"sub": "x", "n": 1}, typ="at+jwt")
    header = jwt.decode(token, store.public_key_set()).header
    assert header == {"alg": "RS256", "typ": "at+jwt", "kid": store.current.kid}
    assert store.verify(token) == {"sub": "x", "n": 1}
    # another store's token, even with our kid, does not verify
    other = RSAKey.generate_key(2048, parameters={"kid": store.current.kid})
    forged = jwt.encode({"alg": "RS256", "kid": store.current.kid}, {"sub": "x"}, other)
    with pytest.raises(JoseError):
        store.verify(forged)
    head, body, sig = token.split(".")
    tampered_body = body[:-2] + ("AA" if body[-2:] != "AA" else "BB")
    with pytest.raises((JoseError, ValueError)):
        store.verify(".".join([head, tampered_body, sig]))
    with pytest.raises((JoseError, ValueError)):
        store.verify("not-a-jwt")


def test_rotate_then_prune(folder):
    store = KeyStore.load_or_create(folder)
    old_kid = store.current.kid
    old_token = store.sign({"sub": "old"})
    new = store.rotate()
    assert new.kid != old_kid and store.current.kid == new.kid
    assert [k["kid"] for k in store.jwks()["keys"]] == [old_kid, new.kid]
    assert store.verify(old_token) == {"sub": "old"}       # old key still published
    new_token = store.sign({"sub": "new"})
    assert jwt.decode(new_token, store.public_key_set()).header["kid"] == new.kid
    actives = {e["kid"]: e["active"] for e in _index(folder)["keys"]}
    assert actives == {old_kid: False, new.kid: True}
    pem = folder / f"signing-{new.kid}.pem"
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600

    reloaded = KeyStore.load_or_create(folder)
    assert reloaded.current.kid == new.kid and len(reloaded.keys) == 2

    assert store.prune() == [old_kid]
    assert [k["kid"] for k in store.jwks()["keys"]] == [new.kid]
    assert not (folder / f"signing-{old_kid}.pem").exists()
    with pytest.raises(JoseError):
        store.verify(old_token)
    assert store.verify(new_token) == {"sub": "new"}
    assert store.prune() == []
    assert KeyStore.load_or_create(folder).current.kid == new.kid


def _kid(folder: Path) -> str:
    return _index(folder)["keys"][0]["kid"]


@pytest.mark.parametrize("content", [
    "not json at all",
    "",
    "{}",
    '{"keys": "abc"}',
    '{"keys": []}',
    "[]",
    '["keys"]',
    "null",
    '{"keys": [42]}',
    '{"keys": [{"active": true}]}',
    '{"keys": [{"kid": "no-such-key", "active": true}]}',
    '{"keys": [{"kid": "../../etc/passwd", "active": true}]}',
    'KID_INACTIVE',
    'KID_BAD_DATE',
], ids=["garbage", "empty", "no-keys", "keys-not-a-list", "keys-empty", "top-level-list",
        "list-of-strings", "null", "entry-not-an-object", "entry-without-kid", "pem-missing",
        "kid-path", "no-active-key", "created-at-not-a-number"])
def test_broken_keyset_is_a_keystore_error(folder, content):
    kid = _kid(folder)
    if content == "KID_INACTIVE":
        content = json.dumps({"keys": [{"kid": kid, "alg": "RS256", "active": False}]})
    if content == "KID_BAD_DATE":
        content = json.dumps({"keys": [{"kid": kid, "created_at": "yesterday", "active": True}]})
    (folder / KEYSET_FILE).write_text(content)
    with pytest.raises(KeyStoreError):
        KeyStore.load_or_create(folder)


def test_corrupt_pem_is_a_keystore_error(folder):
    (folder / f"signing-{_kid(folder)}.pem").write_text("-----BEGIN PRIVATE KEY-----\nxx\n")
    with pytest.raises(KeyStoreError):
        KeyStore.load_or_create(folder)


def test_missing_keyset_with_existing_pem_generates_a_new_index(folder):
    """Only ``keyset.json`` says which keys exist: without it a fresh key is made."""
    (folder / KEYSET_FILE).unlink()
    store = KeyStore.load_or_create(folder)
    assert len(store.keys) == 1 and (folder / KEYSET_FILE).exists()


def test_flask_secret_is_generated_once_and_private(tmp_path):
    first = load_or_create_secret(tmp_path / "k")
    assert len(first) >= 40
    path = tmp_path / "k" / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(tmp_path / "k") == first
    assert load_or_create_secret(tmp_path / "other") != first
