"""The TLS listener that asks for client certificates (card logins, RFC 8705 mTLS aliases),
and what a request presented on it (``presented.py``). See docs/cards.md and docs/mtls.md."""
