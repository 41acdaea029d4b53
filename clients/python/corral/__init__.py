"""Client for ``corral serve``: sandboxes as a service (see docs/api.md)."""

from .client import (
    Client,
    CorralError,
    Conflict,
    ExecEvent,
    Files,
    NotFound,
    NotImplementedByServer,
    Process,
    ProcessStatus,
    RateLimited,
    Result,
    Sandbox,
    TooLarge,
    Unauthorized,
    BadRequest,
)

__all__ = [
    "BadRequest",
    "Client",
    "Conflict",
    "CorralError",
    "ExecEvent",
    "Files",
    "NotFound",
    "NotImplementedByServer",
    "Process",
    "ProcessStatus",
    "RateLimited",
    "Result",
    "Sandbox",
    "TooLarge",
    "Unauthorized",
]
