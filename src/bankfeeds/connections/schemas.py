"""Wire shapes of connections (Codat's ``Connection``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from bankfeeds.kit.pagination import Page
from bankfeeds.kit.wire import StrictWireModel, WireModel
from bankfeeds.models import ConnectionStatus


class ConnectionCreate(WireModel):
    platform_key: str | None = Field(default=None, max_length=100)


class ConnectionUnlink(StrictWireModel):
    status: ConnectionStatus | None = None


class ConnectionOut(WireModel):
    id: str
    integration_id: str
    integration_key: str
    source_id: str
    source_type: str
    platform_name: str
    link_url: str
    status: str
    last_sync: datetime | None
    created: datetime
    data_connection_errors: list[Any] | None = Field(default_factory=list)
    connection_info: dict[str, Any] | None = None


class Connections(Page[ConnectionOut]):
    """list-connections."""
