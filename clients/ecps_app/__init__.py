"""The virtual e-CPS app: ``phone.EcpsPhone`` (a phone over the mobile API), its CLI and page."""
