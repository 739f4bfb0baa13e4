"""The ``webhookId`` path id, parsed once for every route that has one."""

from __future__ import annotations

import uuid
from typing import Annotated

from bankfeeds.kit.deps import uuid_path

# A malformed id names no consumer: a 404 like an unknown one (the CLI says the same).
NOT_FOUND = "No webhook consumer was found with ID {id}"
WebhookIdDep = Annotated[uuid.UUID, uuid_path("webhookId", "Unique identifier for the webhook consumer.", NOT_FOUND)]
