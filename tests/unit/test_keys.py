"""The signing key store: generate once, reload the same, rotate and prune, refuse broken files."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from psc_idp.keys import KeyStore, KeyStoreError, load_or_create_secret
from psc_idp.keys.store import KEYSET_FILE, SECRET_FILE
from psc_idp.pki import LocalPki

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
    shutil.copytree(seeded, target)  # modes kept (copy2); pki/ is the local authority
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


# ----------------------------------------------------------------------------- x5c
def _x5c(published: dict) -> list[x509.Certificate]:
    return [x509.load_der_x509_certificate(base64.b64decode(c, validate=True))
            for c in published["x5c"]]


def test_x5c_certificate_holds_the_jwk_key_and_chains_to_the_local_root(folder):
    """Keycloak publishes x5c (standard base64 DER) with x5t and x5t#S256; ours chain to the
    TEST root an RP can trust."""
    store = KeyStore.load_or_create(folder)
    published = store.jwks()["keys"][0]
    leaf, issuer = _x5c(published)
    public = leaf.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    numbers = public.public_numbers()
    n = int.from_bytes(base64.urlsafe_b64decode(published["n"] + "=="), "big")
    e = int.from_bytes(base64.urlsafe_b64decode(published["e"] + "=="), "big")
    assert (numbers.n, numbers.e) == (n, e)
    assert "-" not in "".join(published["x5c"]) and "_" not in "".join(published["x5c"])
    der = leaf.public_bytes(serialization.Encoding.DER)
    assert published["x5t#S256"] == base64.urlsafe_b64encode(
        hashlib.sha256(der).digest()).rstrip(b"=").decode()
    assert len(base64.urlsafe_b64decode(published["x5t"] + "=")) == 20
    root = LocalPki.in_keys_dir(folder).root().certificate
    leaf.verify_directly_issued_by(issuer)
    issuer.verify_directly_issued_by(root)
    assert "TEST" in root.subject.rfc4514_string()
    assert (folder / f"signing-{store.current.kid}.crt").exists()
    for key in ("pki/root-ca.key", "pki/services-ca.key"):
        assert stat.S_IMODE((folder / key).stat().st_mode) == 0o600


def test_old_key_folder_without_certificates_keeps_loading_and_gains_them(folder):
    """A folder from before x5c: the certificate is made at load, the kid is unchanged."""
    kid = _kid(folder)
    before = KeyStore.load_or_create(folder).jwks()["keys"][0]
    (folder / f"signing-{kid}.crt").unlink()
    shutil.rmtree(folder / "pki")
    store = KeyStore.load_or_create(folder)
    after = store.jwks()["keys"][0]
    assert store.current.kid == kid and (after["n"], after["e"]) == (before["n"], before["e"])
    assert after["x5c"] != before["x5c"]  # a new authority issued it
    assert (folder / f"signing-{kid}.crt").exists()
    assert _x5c(after)[0].public_key().public_numbers().n == int.from_bytes(
        base64.urlsafe_b64decode(after["n"] + "=="), "big")


def test_a_certificate_of_another_key_is_replaced(folder, tmp_path):
    kid = _kid(folder)
    other = KeyStore.load_or_create(tmp_path / "other")
    (folder / f"signing-{kid}.crt").write_bytes(
        (tmp_path / "other" / f"signing-{other.current.kid}.crt").read_bytes())
    published = KeyStore.load_or_create(folder).jwks()["keys"][0]
    leaf = _x5c(published)[0]
    assert leaf.public_key().public_numbers().n == int.from_bytes(
        base64.urlsafe_b64decode(published["n"] + "=="), "big")


def test_rotate_and_prune_keep_one_certificate_per_key(folder):
    store = KeyStore.load_or_create(folder)
    old = store.current.kid
    new = store.rotate().kid
    assert all("x5c" in k for k in store.jwks()["keys"])
    assert (folder / f"signing-{new}.crt").exists()
    store.prune()
    assert not (folder / f"signing-{old}.crt").exists()
    assert [k["kid"] for k in store.jwks()["keys"]] == [new]


def test_an_unwritable_folder_publishes_the_key_without_x5c(folder, monkeypatch):
    """x5c is an extra: a read-only secrets volume must not stop the provider."""
    import psc_idp.keys.store as store_module

    kid = _kid(folder)
    (folder / f"signing-{kid}.crt").unlink()

    def refuse(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(store_module, "write_pem", refuse)
    published = KeyStore.load_or_create(folder).jwks()["keys"][0]
    assert "x5c" not in published and published["kid"] == kid
