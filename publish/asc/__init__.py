"""App Store Connect API client: auth, transport, typed resource helpers. Knows nothing of steps or the CLI."""

from publish.asc.auth import ApiKey, TokenProvider
from publish.asc.client import AppStoreConnect
from publish.asc.errors import (
    AscAmbiguousWriteError,
    AscApiError,
    AscAuthError,
    AscConflictError,
    AscErrorItem,
    AscForbiddenError,
    AscNotFoundError,
    AscRateLimitError,
    AscServerError,
    AscTransportError,
    AscValidationError,
)
from publish.asc.resources import Document, Resource

__all__ = [
    "ApiKey",
    "AppStoreConnect",
    "AscAmbiguousWriteError",
    "AscApiError",
    "AscAuthError",
    "AscConflictError",
    "AscErrorItem",
    "AscForbiddenError",
    "AscNotFoundError",
    "AscRateLimitError",
    "AscServerError",
    "AscTransportError",
    "AscValidationError",
    "Document",
    "Resource",
    "TokenProvider",
]
