"""Make the repository root importable when the project is not installed (``pip install -e .``
does it too); the demo RP tests import ``clients.demo_rp``."""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
