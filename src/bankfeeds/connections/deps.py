"""The ``connectionId`` path id, parsed once for every route that has one."""

from __future__ import annotations

import uuid
from typing import Annotated

from bankfeeds.kit.deps import uuid_path

# A malformed id names no connection: a 404 like an unknown one.
ConnectionIdDep = Annotated[uuid.UUID, uuid_path(
    "connectionId", "Unique identifier for a company's data connection.", "Data connection {id} not found")]
