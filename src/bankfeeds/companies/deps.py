"""The ``companyId`` path id, parsed once for every route that has one."""

from __future__ import annotations

import uuid
from typing import Annotated

from bankfeeds.kit.deps import uuid_path

# A malformed id names no company: a 404 like an unknown one (the only 4xx Codat documents).
CompanyIdDep = Annotated[uuid.UUID, uuid_path(
    "companyId", "Unique identifier for a company.", "No company was found with ID {id}")]
