"""Notification API blueprint: the role-protected API (routes of DESIGN §7) and the health probe."""

from __future__ import annotations

import azure.functions as func

from auth import anonymous

bp = func.Blueprint()


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@anonymous
def health(req: func.HttpRequest) -> func.HttpResponse:
    """Liveness for load balancers and the local stack: anonymous on purpose, and says nothing else."""
    return func.HttpResponse('{"status":"ok"}', mimetype="application/json")
