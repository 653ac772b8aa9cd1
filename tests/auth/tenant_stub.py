"""Entra's two discovery documents for the test tenant, served on loopback by pytest-httpserver: the
OpenID metadata (which names the issuer and the key set's URI) and the key set itself. The
validator reads them over real HTTP, exactly as it reads Entra's."""

from __future__ import annotations

from pytest_httpserver import HTTPServer

from tests.auth.token_factory import TokenFactory


def authority_host(server: HTTPServer) -> str:
    return server.url_for("/").rstrip("/")


def publish(server: HTTPServer, factory: TokenFactory) -> None:
    """Serve the metadata and the key set of ``factory``'s tenant until the test ends."""
    origin = authority_host(server)
    keys_path = f"/{factory.tenant}/discovery/v2.0/keys"
    server.expect_request(f"/{factory.tenant}/v2.0/.well-known/openid-configuration").respond_with_json(
        {"issuer": factory.v2_issuer, "jwks_uri": f"{origin}{keys_path}"}
    )
    server.expect_request(keys_path).respond_with_json(factory.jwks())


def key_set_fetches(server: HTTPServer) -> int:
    return sum(1 for request, _ in server.log if request.path.endswith("/keys"))
