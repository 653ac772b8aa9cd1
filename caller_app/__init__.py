"""Caller app blueprint: calls the notification API and Key Vault with its managed identity.

Its routes and the ``deliver_pending`` timer arrive with the caller-app issue.
"""

from __future__ import annotations

import azure.functions as func

bp = func.Blueprint()
