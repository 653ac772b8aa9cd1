"""Inbound authorization shared by the three blueprints: may this request reach the handler?

Read in this order: ``validation.py`` (is the token genuine and for us?), ``principal.py`` (who
is calling), ``guards.py`` (may they call this route?). What a refused client sees is written by
``web/problems.py``.
Calling other services (credentials, the bearer client) is the other direction: ``outbound/``.
"""

from .errors import KeysUnavailable, TenantNotAllowed, TokenError
from .guards import Authorizer, AuthRequirement, anonymous, bearer_token, debug_only, principal_of
from .principal import Principal, client_app_id
from .settings import AuthSettings, check_environment, debug_endpoints_enabled
from .validation import TokenValidator

__all__ = [
    "AuthRequirement",
    "AuthSettings",
    "Authorizer",
    "KeysUnavailable",
    "Principal",
    "TenantNotAllowed",
    "TokenError",
    "TokenValidator",
    "anonymous",
    "bearer_token",
    "check_environment",
    "client_app_id",
    "debug_endpoints_enabled",
    "debug_only",
    "principal_of",
]
