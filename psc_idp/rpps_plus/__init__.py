"""RPPS+ (seed 004): a structure's "gestionnaire RPPS+" registers professionals "with a role"
of the medico-social sector, the registration authority validates, an RPPS number is assigned,
and the professional activates an e-CPS (no card) and signs in with the role in the claims.
"""
