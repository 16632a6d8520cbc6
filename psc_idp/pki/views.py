"""The emulated IGC-Santé's public face over HTTP: CA certificates, CRLs and OCSP.

Relying services and ``openssl verify -crl_check`` fetch these as they would IGC-Santé's
publication points (the URLs are in every issued certificate's CRL distribution point and
authority information access). See docs/pki.md."""

from __future__ import annotations

import base64
import binascii
import logging
from urllib.parse import unquote

from cryptography.hazmat.primitives import serialization
from flask import Blueprint, Response, abort, current_app, request
from sqlalchemy.exc import SQLAlchemyError

from .authority import PkiError
from .crl import ROOT, build_crl
from .igc_sante import AUTHORITIES, IgcSante
from .ocsp import respond

bp = Blueprint("pki", __name__, url_prefix="/pki")
log = logging.getLogger(__name__)
MAX_OCSP_REQUEST = 8192


def _igc() -> IgcSante:
    return IgcSante.from_settings(current_app.extensions["psc_idp"].settings)


def _unavailable(exc: Exception) -> Response:
    """The CA files or the register are unreadable: 503 (retry later), never a 500."""
    log.error("emulated IGC-Santé unavailable: %s", exc)
    return Response("autorité de certification indisponible\n", status=503,
                    mimetype="text/plain")


@bp.get("/ca/<name>.crt")
def ca_certificate(name: str) -> Response:
    """The root (``root``) or an issuing CA's certificate, PEM."""
    if name not in ("root", *AUTHORITIES):
        abort(404)
    try:
        igc = _igc()
        certificate = igc.trust_anchor() if name == "root" else igc.authority(name).certificate
    except (OSError, PkiError) as exc:
        return _unavailable(exc)
    response = Response(certificate.public_bytes(serialization.Encoding.PEM),
                        mimetype="application/x-pem-file")
    response.headers["Content-Disposition"] = f'inline; filename="{name}.crt"'
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response


@bp.get("/crl/<name>.crl")
def crl(name: str) -> Response:
    """The authority's CRL, DER, as fresh as the register (``root``: the root's, empty)."""
    if name not in (ROOT, *AUTHORITIES):
        abort(404)
    try:
        der = build_crl(_igc(), name)
    except (OSError, PkiError, SQLAlchemyError) as exc:
        return _unavailable(exc)
    response = Response(der, mimetype="application/pkix-crl")
    response.cache_control.max_age = 60
    return response


@bp.post("/ocsp")
def ocsp() -> Response:
    """RFC 6960 over POST (application/ocsp-request)."""
    if (request.content_length or 0) > MAX_OCSP_REQUEST:
        abort(413)
    body = request.stream.read(MAX_OCSP_REQUEST + 1)
    if len(body) > MAX_OCSP_REQUEST:
        abort(413)
    return _answer(body)


@bp.get("/ocsp/<path:encoded>")
def ocsp_get(encoded: str) -> Response:
    """RFC 6960 appendix A.1 over GET: the request's DER, base64 then URL-encoded."""
    if len(encoded) > MAX_OCSP_REQUEST * 2:
        abort(413)
    try:
        body = base64.b64decode(unquote(encoded), validate=True)
    except (binascii.Error, ValueError):
        body = b""  # answered malformedRequest, as a garbled POST body is
    return _answer(body)


def _answer(body: bytes) -> Response:
    try:
        answer = respond(_igc(), body)
    except (OSError, PkiError, SQLAlchemyError) as exc:
        return _unavailable(exc)
    return Response(answer, mimetype="application/ocsp-response")
