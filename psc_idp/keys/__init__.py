"""Signing keys in the top-level ``keys/`` folder: generate, load once, rotate, publish JWKS."""

from .store import KeyStore, KeyStoreError, SigningKey, load_or_create_secret

__all__ = ["KeyStore", "KeyStoreError", "SigningKey", "load_or_create_secret"]
