"""GET /privacy: the operator's privacy policy, the URL a public GPT must name.

Read once at start from ``SQLGATEWAY_PRIVACY_POLICY_FILE`` or ``_TEXT``; a missing or empty
file stops the gateway. Without either, a neutral notice that says what the gateway does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from sqlgateway.settings import Settings

if TYPE_CHECKING:
    from sqlgateway.services import Services

DEFAULT_POLICY = """\
Privacy notice

This service is a read-only SQL gateway (sqlgateway) run by the operator of the database it
serves. It receives SQL queries written by an AI assistant on behalf of a user, runs them
read-only against the operator's database, and returns the resulting rows to the assistant.

- What it receives: the SQL text of each query, the API key that authorises the assistant,
  and technical data of the connection (such as the IP address of the caller).
- What it returns: rows of the operator's database; columns the operator marked as sensitive
  are never returned.
- What it keeps: the operator may log requests for security and operation. This service
  stores nothing else about users; it does not receive the user's conversation.
- Who to ask: questions about this service or its data go to its operator.

The operator has not published a specific policy for this service (SQLGATEWAY_PRIVACY_POLICY_FILE
or SQLGATEWAY_PRIVACY_POLICY_TEXT).
"""


class PrivacyPolicyError(Exception):
    """The configured privacy policy cannot be served."""


@dataclass(frozen=True)
class PrivacyPolicy:
    body: bytes
    media_type: str


def load_privacy_policy(settings: Settings) -> PrivacyPolicy:
    path = settings.privacy_policy_file
    if path is not None:
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise PrivacyPolicyError(
                f"SQLGATEWAY_PRIVACY_POLICY_FILE={path}: cannot be read ({error})"
            ) from None
        if not text.strip():
            raise PrivacyPolicyError(f"SQLGATEWAY_PRIVACY_POLICY_FILE={path} is empty")
        html = path.suffix.lower() in (".html", ".htm")
        return PrivacyPolicy(text.encode(), "text/html" if html else "text/plain")
    given = settings.privacy_policy_text
    if given is not None and not given.strip():
        raise PrivacyPolicyError("SQLGATEWAY_PRIVACY_POLICY_TEXT is empty")
    return PrivacyPolicy((given or DEFAULT_POLICY).encode(), "text/plain")


async def privacy(request: Request) -> Response:
    services: Services = request.state.services
    policy = services.privacy_policy
    return Response(policy.body, media_type=policy.media_type)
