"""Import of the Annuaire Santé extractions (``psc-idp directory import``) and the generator of
synthetic extraction files (``psc-idp directory generate``): streaming, idempotent, kill-safe.
"""
