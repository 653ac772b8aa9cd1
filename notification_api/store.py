"""Notifications in Azure Table Storage: create (idempotent), read, list (paged), acknowledge (ETag).

One partition holds two kinds of rows: ``n-<id>`` notifications and ``i-<hash>`` idempotency
records. They share a partition so that a notification and its idempotency record are written in
one transaction: either both exist or neither, so a retry can never create a duplicate, even when
two retries race.

Locally the connection string is Azurite's; in Azure the client uses the app's managed identity
against ``NotificationStorage__tableServiceUri`` (no keys anywhere).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import hashlib
import json
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

from .settings import ApiSettings

TABLE = "notifications"
PARTITION = "notifications"
# Fail fast when storage is down: the API answers 503 rather than holding the caller.
T = TypeVar("T")
Entity = dict[str, Any]  # a table row as the SDK returns it (TableEntity) or as we write it


class _ClientOptions(TypedDict):
    retry_total: int
    retry_backoff_factor: float
    connection_timeout: int
    read_timeout: int


CLIENT_OPTIONS = _ClientOptions(retry_total=2, retry_backoff_factor=0.2, connection_timeout=2, read_timeout=5)


class StorageUnavailable(Exception):
    """Storage did not answer or failed: 503 with Retry-After. Nothing was acknowledged."""


class IdempotencyKeyReused(Exception):
    """The same Idempotency-Key came with a different request body (422)."""


class InvalidPageToken(ValueError):
    pass


@dataclass(frozen=True)
class Visibility:
    """Which notifications a caller may see: all of them (``names`` None), or those addressed to one
    of ``names`` (lower-cased). Every read and write takes one, so the rule lives here, once: a
    notification the caller may not see does not exist for them."""

    names: frozenset[str] | None

    @classmethod
    def everything(cls) -> Visibility:
        return cls(None)

    @classmethod
    def addressed_to(cls, *names: str) -> Visibility:
        return cls(frozenset(name.lower() for name in names if name))

    def allows(self, entity: Mapping[str, Any]) -> bool:
        return self.names is None or str(entity.get("recipientKey", "")) in self.names


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

    def create(self, new: NewNotification, created_by: str, idempotency_key: str | None) -> tuple[Entity, bool]:
        """The stored notification, and whether this was a replay of an earlier request."""
        self._ensure_table()
        notification_id = _new_id()
        entity = {
            "PartitionKey": PARTITION,
            "RowKey": f"n-{notification_id}",
            "id": notification_id,
            "recipient": new.recipient,
            "recipientKey": new.recipient.lower(),
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
            "PartitionKey": PARTITION,
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
        earlier = _storage_errors(lambda: self.table.get_entity(PARTITION, record["RowKey"]))
        if earlier["fingerprint"] != record["fingerprint"]:
            raise IdempotencyKeyReused(idempotency_key)
        return public(_storage_errors(lambda: self.table.get_entity(PARTITION, f"n-{earlier['notificationId']}"))), True

    def _read(self, notification_id: str, visible: Visibility) -> TableEntity | None:
        """The stored entity when it exists and ``visible`` allows it, else None."""
        self._ensure_table()
        try:
            entity = _storage_errors(lambda: self.table.get_entity(PARTITION, f"n-{notification_id}"))
        except ResourceNotFoundError:
            return None
        return entity if visible.allows(entity) else None

    def get(self, notification_id: str, visible: Visibility) -> Entity | None:
        entity = self._read(notification_id, visible)
        return None if entity is None else public(entity)

    def list(
        self, visible: Visibility, *, status: str | None, top: int, page_token: str | None
    ) -> tuple[list[Entity], str | None]:
        """One page of what ``visible`` allows, oldest first (the filter runs in the query)."""
        self._ensure_table()
        conditions = ["PartitionKey eq @pk", "RowKey ge 'n-'", "RowKey lt 'n.'"]
        parameters: dict[str, str] = {"pk": PARTITION}
        if status:
            conditions.append("status eq @status")
            parameters["status"] = status
        if visible.names is not None:
            recipients = sorted(visible.names)
            if not recipients:
                return [], None  # addressed to nobody: nothing to see
            names = [f"recipientKey eq @r{i}" for i in range(len(recipients))]
            # Spaces inside the parentheses: the SDK finds "@name" parameters between spaces.
            conditions.append(f"( {' or '.join(names)} )")
            parameters.update({f"r{i}": r for i, r in enumerate(recipients)})
        pages = self.table.query_entities(
            " and ".join(conditions), parameters=parameters, results_per_page=top
        ).by_page(continuation_token=_decode_token(page_token))  # type: ignore[arg-type]  # azure-core types the token as str; the Tables SDK's is a dict

        def first_page() -> list[Entity]:
            return [public(e) for e in next(pages, [])]

        items = _storage_errors(first_page)
        # The page iterator carries continuation_token; azure-core's hint for by_page() says only Iterator.
        return items, _encode_token(pages.continuation_token)  # type: ignore[attr-defined]

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
                "PartitionKey": PARTITION,
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


def _encode_token(token: Mapping[str, Any] | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(token).encode()).decode().rstrip("=") if token else None


def _decode_token(token: str | None) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidPageToken(token) from None
    if not isinstance(value, dict) or not all(isinstance(v, str | None) for v in value.values()):
        raise InvalidPageToken(token)
    return value
