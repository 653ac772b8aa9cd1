"""Validator and guard tests run without the emulator: tokens are signed in this process and the
tenant's keys are served by a local stub (tenant_stub.py); no test here may connect beyond loopback
(no_network.py). The emulator has its own end-to-end tests."""

from __future__ import annotations

import socket

import pytest
from pytest_httpserver import HTTPServer

from auth import AuthSettings, TokenValidator
from tests.auth import tenant_stub
from tests.auth.no_network import Address, loopback_only
from tests.auth.token_factory import TokenFactory


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    real_connect = socket.socket.connect

    def connect(sock: socket.socket, address: Address) -> None:
        loopback_only(address)
        real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture(scope="session")
def factory(make_httpserver: HTTPServer) -> TokenFactory:
    """One tenant key and one attacker key for the whole run (RSA key generation is the slow part)."""
    return TokenFactory(tenant_stub.authority_host(make_httpserver))


@pytest.fixture
def tenant(httpserver: HTTPServer, factory: TokenFactory) -> HTTPServer:
    """The stub, publishing the tenant's keys for this test; its request log starts empty."""
    tenant_stub.publish(httpserver, factory)
    return httpserver


@pytest.fixture
def settings(tenant: HTTPServer, factory: TokenFactory) -> AuthSettings:
    return AuthSettings(
        factory.tenant,
        tenant_stub.authority_host(tenant),
        (factory.api_app_id, "api://7812c330-acf6-4d59-acac-aae48e763f41/notification-api"),
    )


@pytest.fixture
def validator(settings: AuthSettings) -> TokenValidator:
    return TokenValidator(settings)
