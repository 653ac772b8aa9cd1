"""The activity log: ``GET /subscriptions/{id}/providers/Microsoft.Insights/eventtypes/management/values``.

As Azure Monitor: ``$filter`` is required and must start the time range (``eventTimestamp ge '...'``);
it may end it (``eventTimestamp le '...'``) and narrow to one of ``resourceGroupName``, ``resourceUri``,
``resourceProvider`` or ``correlationId`` (``eq '...'``), joined with ``and``. Nothing else is allowed.
Reading it needs ``Microsoft.Insights/eventtypes/values/read`` (Reader has it through ``*/read``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse

from .arm_requests import INSIGHTS_EVENTS_API_VERSIONS, ArmError, Caller, authorize, check_provider_version
from .azure_resources import ActivityEvent
from .state import State

READ = "Microsoft.Insights/eventtypes/values/read"
_TERM = re.compile(r"^\s*(\w+)\s+(ge|le|eq)\s+'([^']*)'\s*$", re.IGNORECASE)
_NARROWING = {"resourcegroupname", "resourceuri", "resourceprovider", "correlationid"}


def _bad_filter(detail: str) -> ArmError:
    return ArmError(400, "BadRequest", f"The $filter is not valid: {detail}")


def _time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _bad_filter(f"'{value[:40]}' is not a date and time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse(text: str) -> tuple[datetime, datetime | None, dict[str, str]]:
    if not text:
        raise _bad_filter("$filter is required, starting with eventTimestamp ge '<start time>'")
    start: datetime | None = None
    end: datetime | None = None
    narrowing: dict[str, str] = {}
    for term in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        found = _TERM.match(term)
        if found is None:
            raise _bad_filter(f"'{term[:80]}' is not one of the supported terms")
        name, op, value = found.group(1).lower(), found.group(2).lower(), found.group(3)
        if name == "eventtimestamp" and op == "ge":
            start = _time(value)
        elif name == "eventtimestamp" and op == "le":
            end = _time(value)
        elif name in _NARROWING and op == "eq" and not narrowing:
            narrowing[name] = value.lower()
        else:
            raise _bad_filter(f"'{term[:80]}' is not one of the supported terms")
    if start is None:
        raise _bad_filter("it must start the time range with eventTimestamp ge '<start time>'")
    return start, end, narrowing


def _matches(event: ActivityEvent, start: datetime, end: datetime | None, narrowing: dict[str, str]) -> bool:
    if event.at < start or (end is not None and event.at > end):
        return False
    fields = {
        "resourcegroupname": event.resource_group.lower(),
        "resourceuri": event.resource_id.lower(),
        "resourceprovider": "microsoft.web",
        "correlationid": event.correlation_id.lower(),
    }
    return all(fields[name] == value for name, value in narrowing.items())


def list_events(state: State, caller: Caller, version: str, sub: str, request: Request) -> JSONResponse:
    check_provider_version(version, "eventtypes/values", INSIGHTS_EVENTS_API_VERSIONS)
    subscription = state.directory.azure.subscription(sub)
    if subscription is None:
        raise ArmError(404, "SubscriptionNotFound", f"The subscription '{sub[:100]}' could not be found.")
    start, end, narrowing = _parse(request.query_params.get("$filter", ""))
    scope = subscription.scope
    if "resourcegroupname" in narrowing:
        scope += f"/resourceGroups/{narrowing['resourcegroupname']}"
    elif "resourceuri" in narrowing:
        scope = narrowing["resourceuri"]
    authorize(state, caller, READ, scope)
    events = [
        e.json()
        for e in state.directory.azure.activity
        if e.subscription_id == subscription.id and _matches(e, start, end, narrowing)
    ]
    selected = [s.strip() for s in request.query_params.get("$select", "").split(",") if s.strip()]
    if selected:
        events = [{k: v for k, v in e.items() if k in selected} for e in events]
    return JSONResponse({"value": events})
