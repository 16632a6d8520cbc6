"""(being written) The RPPS+ portal's pages."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("rpps_plus", __name__, url_prefix="/rpps-plus")
