"""The native backend's exceptions."""

from __future__ import annotations


class NativeUnavailableError(RuntimeError):
    """The native backend cannot be used; ``str(err)`` is a one-line reason."""


class NativeError(ValueError):
    """The C side refused an input (malformed scenario, bad decision) or failed."""


class NativeSetupError(NativeError):
    """The scenario's setup broke an invariant or could not run (model.SetupError)."""
