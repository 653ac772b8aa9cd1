"""Outbound calls shared by the apps: how an app proves who it is and calls another service.

Read in this order: ``credentials.py`` (the one credential an app uses for every Azure client),
``http.py`` (a retrying session, and a bearer client that adds the token and maps errors to
``DownstreamError``). Nothing here looks at an incoming request: that is ``auth/``.
"""

from .credentials import build_credential
from .http import TIMEOUT, BearerClient, DownstreamError, TokenProvider, credential_tokens, retrying_session

__all__ = [
    "TIMEOUT",
    "BearerClient",
    "DownstreamError",
    "TokenProvider",
    "build_credential",
    "credential_tokens",
    "retrying_session",
]
