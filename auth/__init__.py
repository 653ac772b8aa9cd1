"""Token validation and authorization shared by the three blueprints.

Read in this order: ``validation.py`` (is the token genuine and for us?), ``principal.py`` (who
is calling), ``guards.py`` (may they call this route?), ``problems.py`` (what the client sees).
"""

from .errors import KeysUnavailable, TokenError
from .guards import Authorizer, AuthRequirement, anonymous, debug_only, principal_of
from .principal import Principal
from .settings import AuthSettings, check_environment, debug_endpoints_enabled
from .validation import TokenValidator

__all__ = [
    "AuthRequirement",
    "AuthSettings",
    "KeysUnavailable",
    "Authorizer",
    "Principal",
    "TokenError",
    "TokenValidator",
    "anonymous",
    "check_environment",
    "debug_only",
    "debug_endpoints_enabled",
    "principal_of",
]
