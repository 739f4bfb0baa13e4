"""The ``pushOperationKey`` path id, parsed once for the route that has one."""

from __future__ import annotations

import uuid
from typing import Annotated

from bankfeeds.kit.deps import uuid_path

# A malformed key names no push operation: a 404 like an unknown one (the operation has no 400).
PushOperationKeyDep = Annotated[uuid.UUID, uuid_path(
    "pushOperationKey", "Push operation key.", "Push operation {id} not found")]
