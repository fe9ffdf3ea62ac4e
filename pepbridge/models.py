"""The models of the `pepbridge` app, which live beside the code that uses them.

Django loads an app's models from this module; each is defined in its own package so that the
ground layers import only what they need (docs/architecture.md, "Layers").
"""

from __future__ import annotations

# The back office's permission holder and staff-action log (docs/back-office.md).
from pepbridge.backoffice.models import BackOfficePermission, StaffAction  # noqa: F401

# The PEP token cache, used by pepbridge/pep/token.py.
from pepbridge.pep.models import PepToken  # noqa: F401
