"""The ``companyId`` path id, parsed once for every route that has one."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path

from bankfeeds.errors import NotFound

DESCRIPTION = "Unique identifier for a company."


def company_id(
    companyId: Annotated[str, Path(description=DESCRIPTION, json_schema_extra={"format": "uuid"})],
) -> uuid.UUID:
    """A malformed id names no company: a 404 like an unknown one (the only 4xx Codat documents)."""
    try:
        return uuid.UUID(companyId)
    except ValueError:
        raise NotFound(f"No company was found with ID {companyId[:100]}") from None


CompanyIdDep = Annotated[uuid.UUID, Depends(company_id)]
