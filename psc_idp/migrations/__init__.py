"""Alembic migrations, run programmatically by ``psc-idp init`` (see ``psc_idp.schema``)."""
