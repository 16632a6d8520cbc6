"""The virtual card reader and CPS middleware: holds virtual CPx cards, checks the PIN on the
emulated chip, and presents the card in the TLS handshake of a card login. README.md."""
