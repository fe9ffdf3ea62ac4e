"""A local stand-in for PEP's Platform API with fault injection (docs/sandbox.md)."""

from __future__ import annotations

from pepbridge.sandbox.server import SandboxServer

__all__ = ["SandboxServer"]
