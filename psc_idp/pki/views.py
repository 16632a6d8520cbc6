"""The emulated IGC-Santé's public face over HTTP: CA certificates, CRLs (and OCSP).

Relying services and ``openssl verify -crl_check`` fetch these as they would IGC-Santé's
publication points. See docs/pki.md."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("pki", __name__, url_prefix="/pki")
