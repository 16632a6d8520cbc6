"""The names of audit events, in one table, so a typo fails loudly instead of silently."""

EVENTS: dict[str, str] = {
    "login.success": "a professional was authenticated by an authenticator",
    "login.failure": "an authentication attempt failed (wrong persona, blocked means, expired)",
    "login.sso": "an authorization request was answered from an existing IdP session",
    "authorize.refused": "an authorization request was refused (client, redirect, PKCE, prompt)",
    "token.issued": "tokens were issued at the token endpoint",
    "token.refused": "a token request was refused (bad client auth, code, verifier, grant)",
    "token.refreshed": "a refresh token was rotated",
    "token.reuse_detected": "a used code or rotated refresh token came back: its grant is revoked",
    "token.revoked": "a token was revoked at the revocation endpoint",
    "token.introspected": "a client introspected a token",
    "userinfo.served": "userinfo was released to a client",
    "userinfo.refused": "a userinfo request was refused",
    "client.created": "a client was registered",
    "client.updated": "a client registration changed",
    "client.removed": "a client was removed",
    "directory.loaded": "professionals were loaded into the directory",
    "session.ended": "an IdP session ended (logout, expiry)",
}
