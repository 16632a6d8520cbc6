"""The public key set (``keys/store.py``): built once per key-set version, not per verify;
a ``keys rotate`` / ``keys prune`` made by another instance or the CLI is loaded at the next
use, without a restart."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from joserfc.errors import JoseError

from psc_idp.keys import KeyStore


@pytest.fixture
def own_keys(keys_dir: Path, tmp_path: Path) -> Path:
    """A copy of the run's key folder: rotating it must not change other tests' keys."""
    target = tmp_path / "keys"
    shutil.copytree(keys_dir, target)
    return target


def test_verify_reuses_one_key_set_per_version(own_keys):
    store = KeyStore.load_or_create(own_keys)
    token = store.sign({"sub": "x"})
    first = store.public_key_set()
    assert store.verify(token) == {"sub": "x"}
    assert store.public_key_set() is first and store.jwks() is store.jwks()
    store.rotate()
    assert store.public_key_set() is not first
    assert store.verify(token) == {"sub": "x"}  # the old key stays published until pruned


def test_rotation_and_prune_by_another_store_are_seen(own_keys):
    """Two stores on one folder: two processes, or two instances sharing the keys volume."""
    here = KeyStore.load_or_create(own_keys)
    elsewhere = KeyStore.load_or_create(own_keys)
    old = here.current.kid
    old_token = here.sign({"n": 1})
    new = elsewhere.rotate()
    assert here.current.kid == new.kid != old
    assert {k["kid"] for k in here.jwks()["keys"]} == {old, new.kid}
    assert here.verify(elsewhere.sign({"n": 2})) == {"n": 2}
    assert here.sign({"n": 3}).count(".") == 2 and here.reloads == 1
    elsewhere.prune()
    assert [k["kid"] for k in here.jwks()["keys"]] == [new.kid]
    with pytest.raises(JoseError):
        here.verify(old_token)


def test_a_cli_rotation_reaches_running_instances(make_app, other_instance, run_cli, own_keys):
    """``psc-idp keys rotate`` in its own app (process): both running instances publish and
    sign with the new key at once; their JWKS endpoint too."""
    first = make_app(keys_dir=str(own_keys))
    second = other_instance(keys_dir=str(own_keys))
    old = first.extensions["psc_idp"].keys.current.kid
    run_cli(own_keys, "keys", "rotate")
    for app in (first, second):
        keys = app.extensions["psc_idp"].keys
        assert keys.current.kid != old
        published = app.test_client().get(
            "/auth/realms/esante-wallet/protocol/openid-connect/certs").get_json()
        assert {k["kid"] for k in published["keys"]} == {old, keys.current.kid}
    run_cli(own_keys, "keys", "prune")
    for app in (first, second):
        assert [k["kid"] for k in app.extensions["psc_idp"].keys.jwks()["keys"]] == \
            [app.extensions["psc_idp"].keys.current.kid]


def test_parallel_verifies_across_a_rotation(own_keys):
    """Threads verifying while another store rotates: no error, one reload."""
    here = KeyStore.load_or_create(own_keys)
    token = here.sign({"sub": "p"})
    errors: list[BaseException] = []
    start = threading.Barrier(9)

    def verify() -> None:
        try:
            start.wait()
            for _ in range(50):
                assert here.verify(token) == {"sub": "p"}
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=verify) for _ in range(8)]
    for thread in threads:
        thread.start()
    start.wait()
    KeyStore.load_or_create(own_keys).rotate()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert here.verify(token) == {"sub": "p"} and here.reloads == 1
