"""Tests that the documentation's samples and command lines run as written."""
