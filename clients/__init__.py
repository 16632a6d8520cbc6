"""Clients of the psc-idp provider: the demo relying parties, the virtual e-CPS app and the
virtual card reader live here."""
