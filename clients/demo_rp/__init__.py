"""The demo relying service: a Flask app signing professionals in with Pro Santé Connect.

Works against the local psc-idp by default and against the real PSC sandbox by configuration
only (``clients/demo_rp/README.md``). Entry points: ``clients.demo_rp.app.create_app`` and
``clients.demo_rp.app.main`` (the ``psc-demo-rp`` console script). Nothing is imported here, so
``python -m clients.demo_rp.app`` runs the module once.
"""
