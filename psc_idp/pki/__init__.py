"""psc-idp's local TEST certificate authority (``authority.py``), the TLS server certificate
and context ``serve`` uses (``server.py``), and what outgoing calls trust (``outgoing.py``).

See docs/https.md. Later: the emulated IGC-Santé issuing CAs (cards, organisations) and CRLs.
"""

from .authority import Authority, LocalPki, PkiError, Usage, issue, new_key

__all__ = ["Authority", "LocalPki", "PkiError", "Usage", "issue", "new_key"]
