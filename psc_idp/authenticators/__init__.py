"""Means of authentication as plug-ins behind one small, Keycloak-shaped interface.

Adding a means (e-CPS push, e-CPS OTP, CPx card...) is one module here plus one line in
``registry.REGISTRY``; ``oidc/`` never imports this package.
"""

from .base import Authenticator, AuthResult, LoginContext, Outcome, StepResult
from .registry import REGISTRY, build_authenticators

__all__ = [
    "REGISTRY", "AuthResult", "Authenticator", "LoginContext", "Outcome", "StepResult",
    "build_authenticators",
]
