"""The Step Functions API: AWS JSON 1.0 protocol, REST view and probes (see docs/api.md)."""

from runtime.api.app import create_app
from runtime.api.config import ApiSettings
from runtime.api.errors import ERRORS, ApiError

__all__ = ["ERRORS", "ApiError", "ApiSettings", "create_app"]
