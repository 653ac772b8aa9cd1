"""On-behalf-of proxy blueprint: calls the notification API as the signed-in user.

Its routes arrive with the on-behalf-of issue.
"""

from __future__ import annotations

import azure.functions as func

bp = func.Blueprint()
