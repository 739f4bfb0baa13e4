"""The ``connectionId`` path id, parsed once for every route that has one."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path

from bankfeeds.errors import NotFound

DESCRIPTION = "Unique identifier for a company's data connection."


def connection_id(
    connectionId: Annotated[str, Path(description=DESCRIPTION, json_schema_extra={"format": "uuid"})],
) -> uuid.UUID:
    """A malformed id names no connection: a 404 like an unknown one."""
    try:
        return uuid.UUID(connectionId)
    except ValueError:
        raise NotFound(f"Data connection {connectionId[:100]} not found") from None


ConnectionIdDep = Annotated[uuid.UUID, Depends(connection_id)]
