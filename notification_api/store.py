"""Notifications in Azure Table Storage: create (idempotent), read, list (paged), acknowledge (ETag).

Each tenant's notifications are its own: the partition key is the tenant id (``tid``), and every
read names the caller's partition, so another tenant's notification is not found (404), never
refused (403). A user's mailbox is ``tid`` + the recipient's object id (``oid``): the only pair
Entra promises is unique and never reassigned. Recipients are addressed by object id, never by
UPN or e-mail: names are mutable (an admin renames a user, a leaver's UPN is given to a newcomer),
and turning a name into an object id needs Microsoft Graph, which this API does not call.

A partition holds two kinds of rows: ``n-<id>`` notifications and ``i-<hash>`` idempotency
records. They share a partition so that a notification and its idempotency record are written in
one transaction: either both exist or neither, so a retry can never create a duplicate, even when
two retries race.

An earlier version kept every notification in one partition (``notifications``) with recipients
by name. Those rows stay readable by the home tenant's apps (app-only); no user reaches them, since
a name proves nothing about who holds it now.

Locally the connection string is Azurite's; in Azure the client uses the app's managed identity
against ``NotificationStorage__tableServiceUri`` (no keys anywhere).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import hashlib
import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableClient, TableEntity, TableServiceClient, TableTransactionError, UpdateMode

from outbound import build_credential
from web import Problem, problems

from .settings import ApiSettings

TABLE = "notifications"
LEGACY_PARTITION = "notifications"  # where an earlier version kept every notification, recipients by name
ID_PATTERN = "^[0-9]{13}[0-9a-f]{12}$"  # the id _new_id makes: creation time in ms, then 12 hex
ROW_KEY = re.compile("n-" + ID_PATTERN.removeprefix("^").removesuffix("$"))  # a notification's row key
T = TypeVar("T")
Entity = dict[str, Any]  # a table row as the SDK returns it (TableEntity) or as we write it


class _ClientOptions(TypedDict):
    retry_total: int
    retry_backoff_factor: float
    connection_timeout: int
    read_timeout: int


# Fail fast when storage is down: the API answers 503 rather than holding the caller.
CLIENT_OPTIONS = _ClientOptions(retry_total=2, retry_backoff_factor=0.2, connection_timeout=2, read_timeout=5)


class StorageUnavailable(Problem):
    """Storage did not answer or failed: 503 with Retry-After. Nothing was changed."""

    def __init__(self, reason: str) -> None:
        detail = "Notification storage is unavailable; nothing was changed. Retry later."
        super().__init__(503, detail, headers=problems.RETRY_LATER, reason=f"storage unavailable: {reason}")


class IdempotencyKeyReused(Problem):
    """The same Idempotency-Key came with a different request body (422)."""

    def __init__(self) -> None:
        super().__init__(422, "This Idempotency-Key was used with a different request body.")


class InvalidPageToken(Problem):
    """A pageToken this API did not issue, or not for this caller (400); ``reason`` (logged) says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(400, "pageToken is not one this API issued.", reason=f"pageToken refused: {reason}")


@dataclass(frozen=True)
class Visibility:
    """Which notifications a caller may see: those of its tenant, all of them (``recipient`` None) or
    those addressed to one object id, plus (``legacy``) the rows an earlier version stored. Every
    read and write takes one, so the rule lives here, once: a notification the caller may not see
    does not exist for them."""

    tenant_id: str
    recipient: str | None
    legacy: bool = False

    @classmethod
    def tenant(cls, tenant_id: str, *, legacy: bool = False) -> Visibility:
        """Everything of one tenant: an app holding the role. ``legacy``: the home tenant's apps."""
        return cls(tenant_id, None, legacy)

    @classmethod
    def mailbox(cls, tenant_id: str, object_id: str) -> Visibility:
        """What is addressed to one user (or service principal) of one tenant: ``tid`` + ``oid``."""
        return cls(tenant_id, object_id)

    @property
    def partitions(self) -> tuple[str, ...]:
        """The partitions this caller may read, in the order the table lists them."""
        return tuple(sorted({self.tenant_id, LEGACY_PARTITION} if self.legacy else {self.tenant_id}))

    def allows(self, entity: Mapping[str, Any]) -> bool:
        partition = entity.get("PartitionKey")
        if partition not in self.partitions:
            return False
        return self.recipient is None or (partition == self.tenant_id and entity.get("recipient") == self.recipient)


@dataclass(frozen=True)
class NewNotification:
    recipient: str
    title: str
    body: str

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps([self.recipient, self.title, self.body]).encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _new_id() -> str:
    """Sortable by creation time (row keys list in order), unguessable."""
    return f"{int(time.time() * 1000):013d}{secrets.token_hex(6)}"


def public(entity: Mapping[str, Any]) -> Entity:
    """The notification as the API shows it (no storage bookkeeping)."""
    fields = (
        "id",
        "recipient",
        "title",
        "body",
        "status",
        "createdAt",
        "createdBy",
        "acknowledgedAt",
        "acknowledgedBy",
    )
    return {k: entity[k] for k in fields if entity.get(k) is not None}


def _storage_errors(call: Callable[[], T]) -> T:
    """Turn the SDK's transport and 5xx errors into StorageUnavailable; let 4xx meanings through."""
    try:
        return call()
    except (ResourceExistsError, ResourceNotFoundError, ResourceModifiedError, TableTransactionError):
        raise
    except HttpResponseError as exc:
        if exc.status_code is not None and exc.status_code < 500:
            raise
        raise StorageUnavailable(str(exc).splitlines()[0]) from exc
    except AzureError as exc:  # ServiceRequestError (connection refused), ServiceResponseError (timeout)
        raise StorageUnavailable(str(exc).splitlines()[0]) from exc


class NotificationStore:
    def __init__(self, table: TableClient) -> None:
        self.table = table
        self._table_ready = False
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> NotificationStore:
        if settings.storage_connection_string:  # local: Azurite
            service = TableServiceClient.from_connection_string(settings.storage_connection_string, **CLIENT_OPTIONS)
        else:  # Azure: identity-based, with the one credential every Azure client of this app uses
            credential = build_credential(settings.client_id)
            service = TableServiceClient(endpoint=settings.table_service_uri, credential=credential, **CLIENT_OPTIONS)
        return cls(service.get_table_client(TABLE))

    def _ensure_table(self) -> None:
        if self._table_ready:
            return
        with self._lock:
            with contextlib.suppress(ResourceExistsError):  # infra or another instance made it
                _storage_errors(self.table.create_table)
            self._table_ready = True

    # -- operations ----------------------------------------------------------------------------

    def create(
        self, new: NewNotification, tenant_id: str, created_by: str, idempotency_key: str | None
    ) -> tuple[Entity, bool]:
        """The stored notification in ``tenant_id``'s partition, and whether this was a replay of an
        earlier request (``created_by``'s key, in that tenant)."""
        self._ensure_table()
        notification_id = _new_id()
        entity = {
            "PartitionKey": tenant_id,
            "RowKey": f"n-{notification_id}",
            "id": notification_id,
            "recipient": new.recipient,
            "title": new.title,
            "body": new.body,
            "status": "pending",
            "createdAt": _now(),
            "createdBy": created_by,
        }
        if idempotency_key is None:
            _storage_errors(lambda: self.table.create_entity(entity))
            return public(entity), False
        record = {
            "PartitionKey": tenant_id,
            "RowKey": "i-" + hashlib.sha256(f"{created_by}\n{idempotency_key}".encode()).hexdigest(),
            "notificationId": notification_id,
            "fingerprint": new.fingerprint(),
            "createdAt": entity["createdAt"],
        }
        try:
            _storage_errors(lambda: self.table.submit_transaction([("create", entity), ("create", record)]))
            return public(entity), False
        except TableTransactionError as exc:
            if exc.status_code != 409:
                # error_code is set at run time; azure-data-tables declares it only in its docstring.
                raise StorageUnavailable(f"transaction failed: {getattr(exc, 'error_code', exc.status_code)}") from exc
        # The key was used before (or by a racing retry that won): answer with that notification.
        earlier = _storage_errors(lambda: self.table.get_entity(tenant_id, record["RowKey"]))
        if earlier["fingerprint"] != record["fingerprint"]:
            raise IdempotencyKeyReused()
        return public(_storage_errors(lambda: self.table.get_entity(tenant_id, f"n-{earlier['notificationId']}"))), True

    def _read(self, notification_id: str, visible: Visibility) -> TableEntity | None:
        """The stored entity when it exists in a partition ``visible`` names and it allows it, else None."""
        self._ensure_table()
        for partition in visible.partitions:
            try:
                entity = _storage_errors(functools.partial(self.table.get_entity, partition, f"n-{notification_id}"))
            except ResourceNotFoundError:
                continue
            return entity if visible.allows(entity) else None
        return None

    def get(self, notification_id: str, visible: Visibility) -> Entity | None:
        entity = self._read(notification_id, visible)
        return None if entity is None else public(entity)

    def list(
        self, visible: Visibility, *, status: str | None, top: int, page_token: str | None
    ) -> tuple[list[Entity], str | None]:
        """One page of what ``visible`` allows, oldest first (the filter runs in the query).

        The page token is ours, not the service's continuation token: the partition and row key of
        the last item listed, checked against ``visible`` when it comes back (``PageToken``). The
        query asks for one item more than the page, to know whether another page follows.
        """
        self._ensure_table()
        after = PageToken.decode(page_token, visible) if page_token else None
        # Spaces around every word: the SDK finds "@name" parameters between spaces.
        parameters: dict[str, str] = {}
        where = []
        for i, partition in enumerate(visible.partitions):
            if after is not None and partition < after.partition:
                continue  # listed already: the table lists partitions in this order
            parameters[f"p{i}"] = partition
            if after is not None and partition == after.partition:
                parameters["after"] = after.row_key
                where.append(f"( PartitionKey eq @p{i} and RowKey gt @after )")
            else:
                where.append(f"PartitionKey eq @p{i}")
        conditions = [f"( {' or '.join(where)} )", "RowKey ge 'n-'", "RowKey lt 'n.'"]
        if visible.recipient is not None:
            conditions.append("recipient eq @recipient")
            parameters["recipient"] = visible.recipient
        if status:
            conditions.append("status eq @status")
            parameters["status"] = status
        query = " and ".join(conditions)

        def first_items() -> list[TableEntity]:
            found = self.table.query_entities(query, parameters=parameters, results_per_page=top + 1)
            return list(itertools.islice(found, top + 1))

        entities = _storage_errors(first_items)
        if len(entities) <= top:
            return [public(e) for e in entities], None
        last = entities[top - 1]
        return [public(e) for e in entities[:top]], PageToken(last["PartitionKey"], last["RowKey"]).encode()

    def acknowledge(self, notification_id: str, by: str, visible: Visibility) -> tuple[Entity, bool] | None:
        """None when there is no such notification ``visible`` allows. Conditional on the ETag: of racing
        acks exactly one changes the state; the rest see it done. One read per attempt."""
        for _ in range(5):
            entity = self._read(notification_id, visible)
            if entity is None:
                return None
            if entity["status"] == "acknowledged":
                return public(entity), False
            update = {
                "PartitionKey": entity["PartitionKey"],
                "RowKey": entity["RowKey"],
                "status": "acknowledged",
                "acknowledgedAt": _now(),
                "acknowledgedBy": by,
            }
            try:
                _storage_errors(
                    functools.partial(
                        self.table.update_entity,
                        update,
                        mode=UpdateMode.MERGE,
                        etag=entity.metadata["etag"],
                        match_condition=MatchConditions.IfNotModified,
                    )
                )
            except ResourceModifiedError:
                continue  # someone else changed it first: read again
            return public({**entity, **update}), True
        raise StorageUnavailable("the notification kept changing under the acknowledgement")


@dataclass(frozen=True)
class PageToken:
    """Where the next page starts: after this row. Validated, not signed (there is no secret to
    keep): a token is only ever a position within what the caller may see anyway, so the partition
    must be one ``Visibility`` names and the row key a notification's. Anything else is a 400."""

    partition: str
    row_key: str

    def encode(self) -> str:
        raw = json.dumps({"p": self.partition, "r": self.row_key}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, visible: Visibility) -> PageToken:
        if len(token) > MAX_PAGE_TOKEN or not _BASE64URL.fullmatch(token):
            raise InvalidPageToken("not base64url of the expected length")
        try:
            value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except (binascii.Error, ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise InvalidPageToken("not base64url JSON") from None
        if not isinstance(value, dict) or set(value) != {"p", "r"}:
            raise InvalidPageToken("not a page token's fields")
        partition, row_key = value["p"], value["r"]
        # A lone surrogate ("\ud800" in the JSON) is a str that matches neither rule: refused here,
        # before it can reach the storage client, which could not encode it.
        if partition not in visible.partitions:
            raise InvalidPageToken("another partition")
        if not isinstance(row_key, str) or not ROW_KEY.fullmatch(row_key):
            raise InvalidPageToken("not a notification's row key")
        return cls(partition, row_key)


MAX_PAGE_TOKEN = 200  # a token we issue is about 110 characters
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
