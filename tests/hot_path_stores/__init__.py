"""The hot paths' Core data-access layers (oidc/store.py, directory/store.py, the interaction
and challenge updates) and their security properties, on both backends: the single-use code
claim (also under parallel token requests over HTTP), grant and token revocation, the refresh
claim, the audit row in the caller's transaction, a login form or an e-CPS answer submitted
twice at once taking effect once, and the plain objects giving the ORM's claims. Statement
budgets are elsewhere: tests/statement_budget/ (docs/statement-budget.md)."""
