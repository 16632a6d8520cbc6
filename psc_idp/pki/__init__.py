"""psc-idp's local TEST certificate authority (``authority.py``), the TLS server certificate
and context ``serve`` uses (``server.py``), what outgoing calls trust (``outgoing.py``), and the
emulated IGC-Santé grown from it: issuing CAs for cards and organisations (``igc_sante.py``),
the register of issued certificates (``register.py``), chain verification (``verify.py``),
CRLs and OCSP (``crl.py``, ``ocsp.py``) published under /pki (``views.py``).

See docs/https.md and docs/pki.md.
"""

from .authority import Authority, LocalPki, PkiError, Usage, issue, new_key

__all__ = ["Authority", "LocalPki", "PkiError", "Usage", "issue", "new_key"]
