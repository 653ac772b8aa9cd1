"""Entra's two discovery documents for each test tenant, served on loopback by pytest-httpserver: the
OpenID metadata (which names the issuer and the key set's URI) and the key set itself, whose entry
carries the ``{tenantid}`` issuer template as Entra's v2 key sets do. The validator reads them over
real HTTP, exactly as it reads Entra's."""

from __future__ import annotations

from pytest_httpserver import HTTPServer

from tests.auth.token_factory import CUSTOMER, NOT_A_CUSTOMER, TokenFactory

TEMPLATE = "{tenantid}"


def authority_host(server: HTTPServer) -> str:
    return server.url_for("/").rstrip("/")


def publish(server: HTTPServer, factory: TokenFactory, key_issuers: dict[str, str] | None = None) -> None:
    """Serve the metadata and key set of ``factory``'s tenant and of the two other test tenants until
    the test ends. ``key_issuers`` replaces a tenant's key ``issuer`` (default: the template)."""
    origin = authority_host(server)
    for tenant in (factory.tenant, CUSTOMER, NOT_A_CUSTOMER):
        keys_path = f"/{tenant}/discovery/v2.0/keys"
        server.expect_request(f"/{tenant}/v2.0/.well-known/openid-configuration").respond_with_json(
            {"issuer": factory.issuer(tenant, "2.0"), "jwks_uri": f"{origin}{keys_path}"}
        )
        key_issuer = (key_issuers or {}).get(tenant, f"{origin}/{TEMPLATE}/v2.0")
        server.expect_request(keys_path).respond_with_json(factory.jwks(key_issuer))


def key_set_fetches(server: HTTPServer, tenant: str | None = None) -> int:
    """Key set requests, of one tenant or of any."""
    return sum(
        1
        for request, _ in server.log
        if request.path.endswith("/keys") and (tenant is None or request.path.startswith(f"/{tenant}/"))
    )


def tenant_requests(server: HTTPServer, tenant: str) -> int:
    """Every request naming ``tenant`` (metadata or keys): what a token from it made us fetch."""
    return sum(1 for request, _ in server.log if request.path.startswith(f"/{tenant}/"))
