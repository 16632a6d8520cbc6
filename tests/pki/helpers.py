"""Shared bits of the emulated IGC-Santé tests: PEM files and ``openssl verify``."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization


def pem(path: Path, *certificates: x509.Certificate) -> Path:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates))
    return path


def openssl_verify(root: Path, untrusted: Path, leaf: Path, *extra: str
                   ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", "verify", "-CAfile", str(root), "-untrusted",
                           str(untrusted), *extra, str(leaf)],
                          capture_output=True, text=True, timeout=30)
