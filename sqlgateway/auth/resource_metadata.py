"""The gateway as an OAuth 2.0 protected resource (RFC 9728), so that MCP clients can sign
their users in with the operator's identity provider by themselves.

With SQLGATEWAY_AUTH=oauth, `GET /.well-known/oauth-protected-resource` answers the metadata
document: the resource identifier (the gateway's public URL), the authorization server (the
token issuer, SQLGATEWAY_OAUTH_ISSUER), the scopes and how to send a token; and every 401
names the document in its challenge: `WWW-Authenticate: Bearer …, resource_metadata="…"`.
A client follows the challenge to the document, the document to the provider, signs the user
in, asks for a token for the resource (RFC 8707) and retries. The token is then checked like
any other (oauth.py): signature, issuer, audience (SQLGATEWAY_OAUTH_AUDIENCE), expiry, scopes.

With API keys there is no authorization server to name: the document is 404 and the
challenges stay as they are.
"""

from __future__ import annotations

from typing import Any

from mcp.shared.auth import ProtectedResourceMetadata

from sqlgateway.settings import Settings

#: Where the metadata of a resource with no path is (RFC 9728 §3).
WELL_KNOWN_PATH = "/.well-known/oauth-protected-resource"
RESOURCE_NAME = "sqlgateway"


def resource_identifier(settings: Settings) -> str:
    """The resource the gateway is: its public URL (SQLGATEWAY_PUBLIC_URL), no trailing slash.
    MCP clients ask the provider for tokens for it; /mcp is below it."""
    return settings.served_url.rstrip("/")


def metadata_url(settings: Settings) -> str:
    """The URL of the metadata document, as 401 challenges name it."""
    return resource_identifier(settings) + WELL_KNOWN_PATH


def metadata_document(settings: Settings) -> dict[str, Any] | None:
    """The RFC 9728 document, None unless SQLGATEWAY_AUTH=oauth."""
    if settings.auth != "oauth" or not settings.oauth_issuer:
        return None
    scopes = settings.oauth_scopes or settings.oauth_required_scopes
    # validated from strings so that the URLs stay exactly as configured (clients compare
    # them as strings: the issuer with the provider's own metadata, RFC 8414 §3.3)
    metadata = ProtectedResourceMetadata.model_validate(
        {
            "resource": resource_identifier(settings),
            "authorization_servers": [settings.oauth_issuer],
            "scopes_supported": list(scopes) or None,
            "bearer_methods_supported": ["header"],
            "resource_name": RESOURCE_NAME,
        }
    )
    document: dict[str, Any] = metadata.model_dump(mode="json", exclude_none=True)
    return document
