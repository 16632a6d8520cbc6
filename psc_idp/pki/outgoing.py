"""What psc-idp's own outgoing HTTPS calls trust (back-channel logout, push-gateway webhooks,
a client's ``jwks_uri``).

An RP under test often serves its endpoints with a certificate from its own test CA. Without
this, psc-idp would refuse it, and the only way out would be turning verification off.
``[tls] outgoing_ca_bundle`` names a PEM file of *extra* CAs: requests' ``verify=<file>``
replaces its default store, so the file handed to requests is the default store (certifi's)
followed by the extra CAs, written once beside the keys, under a name that changes with the
content (two apps on one keys folder never overwrite each other's).
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from flask import Flask, current_app
from requests.utils import DEFAULT_CA_BUNDLE_PATH

from .authority import PKI_DIR

COMBINED = "outgoing-ca-bundle-{digest}.pem"
_lock = threading.Lock()
_memo: dict[tuple[str, str], str] = {}


def verify_setting(app: Flask | None = None) -> bool | str:
    """requests' ``verify=``: True (the default store), or the combined bundle's path."""
    settings = (app or current_app).extensions["psc_idp"].settings
    extra = settings.tls.outgoing_ca_bundle
    if not extra:
        return True
    return combined_bundle(Path(extra), Path(settings.keys_dir) / PKI_DIR)


def combined_bundle(extra: Path, folder: Path) -> str:
    """certifi's CAs then ``extra``'s, in ``folder``; the same path while neither changes."""
    try:
        added = extra.read_bytes()
    except OSError:
        # Checked at start-up (config); if it vanished since, verify against it anyway so the
        # call fails as a refused certificate rather than silently trusting less or more.
        return str(extra)
    default = Path(DEFAULT_CA_BUNDLE_PATH).read_bytes()
    digest = hashlib.sha256(default + b"\0" + added).hexdigest()
    key = (str(extra.resolve()), digest)
    with _lock:
        known = _memo.get(key)
        if known and Path(known).exists():
            return known
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / COMBINED.format(digest=digest[:16])
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(default.rstrip(b"\n") + b"\n" + added)
        tmp.replace(target)
        _memo[key] = str(target)
        return str(target)
