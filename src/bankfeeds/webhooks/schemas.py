"""Wire shapes: Codat's ``WebhookConsumer`` (Platform API), bankfeeds' delivery extensions, and
the payload of each webhook event type."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, TypedDict

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


# ---------------------------------------------------------------------------------------------
# Event payloads: the ``payload`` of each event type, as consumers receive it.
#
# One model per Codat webhook schema; each event type has exactly one (``webhooks.events.record``
# takes it, so a payload of the wrong model for an event type does not type-check). They are
# TypedDicts, not pydantic models: the payload is built as the very dict that is stored and
# sent, so typing it costs a push nothing at run time and cannot change a byte of the JSON (keys
# are the wire's camelCase; money stays Decimal and date-times are rendered by the JSON
# serialiser, ``kit.jsonutil``). tests/webhooks/test_payload_shapes.py holds the JSON.


class CompanyLinks(TypedDict):
    portal: str


class ReferenceCompany(TypedDict):
    """Codat's ``companyReference``: which company an event is about."""

    id: str
    name: str
    description: str | None
    links: CompanyLinks
    tags: dict[str, Any]


class CompanyPayload(TypedDict):
    """``company.created``, ``company.deleted``: the company as get-company answers it
    (``companies.schemas.CompanyOut``) without its ``dataConnections``."""

    id: str
    name: str
    description: str | None
    platform: str
    redirect: str
    lastSync: datetime | None
    created: datetime
    createdByUserName: str | None
    products: list[str]
    tags: dict[str, Any]
    ownerUserIds: list[str]
    referenceSubsidiaryCompanies: list[Any]


class ConnectionPayload(TypedDict):
    """``connection.*``: the connection as get-connection answers it."""

    referenceCompany: ReferenceCompany
    # ``connections.schemas.ConnectionOut``, dumped (``kit.http.wire``).
    connection: dict[str, Any]


class SourceAccountPayload(TypedDict):
    """``bankFeeds.sourceAccount.*``: Codat's ``SourceAccountWebhook`` payload."""

    referenceCompany: ReferenceCompany
    companyId: str  # deprecated by Codat, still sent
    connectionId: str
    # ``SourceAccount`` or ``SourceAccountV2``, in the shape the account was created in
    # (``source_accounts.service.to_wire``).
    sourceAccount: dict[str, Any]


class WriteRecord(TypedDict):
    id: str


class DataTypeWritePayload(TypedDict):
    """``bankTransactions.write.*``: Codat's ``DataTypeWriteWebhook`` payload."""

    id: str  # the push operation's key
    type: Literal["Create"]
    referenceCompany: ReferenceCompany
    connectionId: str
    requestedOnDate: str
    completedOnDate: str | None
    status: str  # a PushOperationStatus
    record: WriteRecord | None
    attachmentId: None
