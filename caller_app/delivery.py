"""Deliver pending notifications to a webhook, signed, then acknowledge them: at least once.

A notification is acknowledged only after the webhook accepted it. A failed delivery leaves it
pending for the next run while the others proceed; a crash between delivery and ack means it is
delivered again, so receivers should de-duplicate on ``X-Notification-Id``.

Signature: ``X-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` keyed with the Key
Vault secret, ``X-Signature-Timestamp`` in epoch seconds (receivers reject old timestamps).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass, field

import requests

from outbound import TIMEOUT
from web import Problem

from .api import NotificationApi
from .vault import CachedSecret

log = logging.getLogger(__name__)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


@dataclass
class DeliveryReport:
    delivered: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def deliver_pending(
    api: NotificationApi, secret: CachedSecret, webhook_url: str | None, session: requests.Session
) -> DeliveryReport:
    report = DeliveryReport()
    pending = api.pending()
    if not webhook_url:
        log.info("DELIVERY_WEBHOOK_URL is not set: %d pending notification(s) left pending", len(pending))
        return report
    key = secret.get()
    for notification in pending:
        body = json.dumps(notification).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Notification-Id": notification["id"],
            "X-Signature-Timestamp": timestamp,
            "X-Signature": signature(key, timestamp, body),
        }
        try:
            response = session.post(webhook_url, data=body, headers=headers, timeout=TIMEOUT)
            delivered = 200 <= response.status_code < 300
        except requests.RequestException as exc:
            log.warning("delivering %s failed: %s", notification["id"], type(exc).__name__)
            delivered = False
        if not delivered:
            report.failed.append(notification["id"])
            continue
        try:
            api.acknowledge(notification["id"])
            report.delivered.append(notification["id"])
        except Problem as exc:  # refused or unanswered: delivered, not acknowledged; it will be delivered again
            # The reason or title, never the detail: a detail may quote Entra's text, which names users.
            reason = f"{exc.status} {exc.reason or exc.title}"
            log.warning("delivered %s but the ack failed (%s); it stays pending", notification["id"], reason)
            report.failed.append(notification["id"])
    log.info("delivery: %d delivered, %d failed", len(report.delivered), len(report.failed))
    return report
