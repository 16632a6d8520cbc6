"""Administration: client registry operations and the ``psc-idp`` command line."""
