"""Wire shapes: Codat's ``WebhookConsumer`` (Platform API) and bankfeeds' delivery extensions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StrictBool, field_validator

from bankfeeds.kit import inputs
from bankfeeds.kit.wire import WireModel


class WebhookConsumerPrototype(WireModel):
    """``webhookConsumerPrototype``: the body of create-webhook-consumer."""

    url: str | None = Field(default=None, max_length=2048)
    disabled: StrictBool | None = False
    event_types: list[Annotated[str, Field(max_length=100)]] | None = Field(default=None, max_length=100)
    company_tags: list[Annotated[str, Field(max_length=200)]] | None = Field(default=None, max_length=100)


class WebhookConsumerOut(WireModel):
    id: str
    url: str
    disabled: bool
    event_types: list[str]
    company_tags: list[str] | None = None


class WebhookConsumerCreated(WebhookConsumerOut):
    # Not in Codat's schema (its SDKs ignore it): the secret, shown once, to verify signatures.
    signing_secret: str


class WebhookConsumers(WireModel):
    results: list[WebhookConsumerOut]


# bankfeeds extensions (not in Codat's spec; Codat offers these in its portal).


class SigningSecretOut(WireModel):
    signing_secret: str
    # Until then the previous secret still signs every message, as a second signature.
    previous_secret_expires: datetime | None


class Since(WireModel):
    since: datetime

    @field_validator("since")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        try:
            return inputs.in_range(value, "since")
        except inputs.InputRefused as exc:
            raise ValueError(exc.message) from None


class CountOut(WireModel):
    count: int


class MessageOut(WireModel):
    id: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    trigger: str
    next_attempt: datetime | None
    created: datetime
    last_attempt: datetime | None
    delivered: datetime | None


class AttemptOut(WireModel):
    id: str
    message_id: str
    attempted: datetime
    url: str
    status_code: int | None
    success: bool
    latency_ms: int
    response: str
    error: str | None
    trigger: str


class WebhookMessages(WireModel):
    results: list[MessageOut]


class WebhookAttempts(WireModel):
    results: list[AttemptOut]
