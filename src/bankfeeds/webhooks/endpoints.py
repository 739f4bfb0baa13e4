"""``/webhooks``: Codat's webhook consumers (Platform API), plus bankfeeds' delivery extensions.

The three Codat operations answer exactly as the Platform spec documents (200, 201, 204). The
create response carries one extra field, ``signingSecret``, shown once; ``companyTags`` is left
out when the consumer has none (the spec is OpenAPI 3.1, where ``nullable`` means nothing). The other routes
(enable/disable, secret rotation, messages, attempts, resend, recover, replay) are not in
Codat's API; they are marked ``x-bankfeeds-extension`` in the OpenAPI document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from bankfeeds.kit.deps import ClockDep, SessionDep, SettingsDep
from bankfeeds.kit.http import JSONResponse, json_body, wire
from bankfeeds.public_api import EVERY_EXTENSION, codat
from bankfeeds.webhooks import service
from bankfeeds.webhooks.deps import WebhookIdDep
from bankfeeds.webhooks.schemas import (
    CountOut,
    MessageOut,
    SigningSecretOut,
    Since,
    WebhookAttempts,
    WebhookConsumerCreated,
    WebhookConsumerOut,
    WebhookConsumerPrototype,
    WebhookConsumers,
    WebhookMessages,
)

router = APIRouter(tags=["Webhooks"])

ConsumerBody = Annotated[WebhookConsumerPrototype, Depends(json_body(WebhookConsumerPrototype))]
SinceBody = Annotated[Since, Depends(json_body(Since))]
EXTENSION: dict[str, Any] = {"x-bankfeeds-extension": True}
EXT_TAGS: list[Any] = ["Webhooks (bankfeeds extensions)"]


@router.get("/webhooks", operation_id="list-webhook-consumers", responses=codat(200, WebhookConsumers, 400))
def list_webhook_consumers(session: SessionDep) -> JSONResponse:
    results = [wire(service.to_wire(c), exclude_none=True) for c in service.list_consumers(session)]
    return JSONResponse({"results": results})


@router.post("/webhooks", operation_id="create-webhook-consumer", status_code=201,
             responses=codat(201, WebhookConsumerCreated, 400, method="POST"))
def create_webhook_consumer(
    body: ConsumerBody, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> JSONResponse:
    consumer, secret = service.create(session, clock, settings, body)
    out = WebhookConsumerCreated(**service.to_wire(consumer).model_dump(), signing_secret=secret)
    return JSONResponse(wire(out, exclude_none=True), status_code=201)


@router.delete("/webhooks/{webhookId}", operation_id="delete-webhook-consumer", status_code=204,
               responses=codat(204, None, 404))
def delete_webhook_consumer(webhookId: WebhookIdDep, session: SessionDep) -> Response:
    service.delete(session, service.get(session, webhookId, for_update=True))
    return Response(status_code=204)


# Extensions


@router.post("/webhooks/{webhookId}/disable", operation_id="bankfeeds-disable-webhook-consumer",
             tags=EXT_TAGS, openapi_extra=EXTENSION,
             responses=codat(200, WebhookConsumerOut, method="POST", every=EVERY_EXTENSION))
def disable_webhook_consumer(webhookId: WebhookIdDep, session: SessionDep, clock: ClockDep) -> JSONResponse:
    consumer = service.disable(session, clock, service.get(session, webhookId, for_update=True))
    return JSONResponse(wire(service.to_wire(consumer), exclude_none=True))


@router.post("/webhooks/{webhookId}/enable", operation_id="bankfeeds-enable-webhook-consumer",
             tags=EXT_TAGS, openapi_extra=EXTENSION,
             responses=codat(200, WebhookConsumerOut, method="POST", every=EVERY_EXTENSION))
def enable_webhook_consumer(webhookId: WebhookIdDep, session: SessionDep, clock: ClockDep) -> JSONResponse:
    consumer = service.enable(session, clock, service.get(session, webhookId, for_update=True))
    return JSONResponse(wire(service.to_wire(consumer), exclude_none=True))


@router.post("/webhooks/{webhookId}/secret/rotate", operation_id="bankfeeds-rotate-webhook-secret",
             tags=EXT_TAGS, openapi_extra=EXTENSION,
             responses=codat(200, SigningSecretOut, method="POST", every=EVERY_EXTENSION))
def rotate_webhook_secret(
    webhookId: WebhookIdDep, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> JSONResponse:
    secret, until = service.rotate_secret(session, clock, settings, service.get(session, webhookId, for_update=True))
    return JSONResponse(wire(SigningSecretOut(signing_secret=secret, previous_secret_expires=until)))


@router.get("/webhooks/{webhookId}/messages", operation_id="bankfeeds-list-webhook-messages",
            tags=EXT_TAGS, openapi_extra=EXTENSION,
            responses=codat(200, WebhookMessages, 400, every=EVERY_EXTENSION))
def list_webhook_messages(
    webhookId: WebhookIdDep,
    session: SessionDep,
    status: Annotated[str | None, Query()] = None,
    since: Annotated[datetime | None, Query()] = None,
    limit: Annotated[int, Query()] = 100,
) -> JSONResponse:
    consumer = service.get(session, webhookId)
    rows = service.messages(session, consumer, status=status, since=since, limit=limit)
    return JSONResponse({"results": [wire(service.message_to_wire(m)) for m in rows]})


@router.get("/webhooks/{webhookId}/messages/{messageId}/attempts",
            operation_id="bankfeeds-list-webhook-attempts", tags=EXT_TAGS, openapi_extra=EXTENSION,
            responses=codat(200, WebhookAttempts, every=EVERY_EXTENSION))
def list_webhook_attempts(webhookId: WebhookIdDep, messageId: str, session: SessionDep) -> JSONResponse:
    rows = service.attempts(session, service.get(session, webhookId), messageId)
    return JSONResponse({"results": [wire(service.attempt_to_wire(a)) for a in rows]})


@router.post("/webhooks/{webhookId}/messages/{messageId}/resend",
             operation_id="bankfeeds-resend-webhook-message", status_code=202, tags=EXT_TAGS,
             openapi_extra=EXTENSION,
             responses=codat(202, MessageOut, 400, method="POST", every=EVERY_EXTENSION))
def resend_webhook_message(
    webhookId: WebhookIdDep, messageId: str, session: SessionDep, clock: ClockDep
) -> JSONResponse:
    message = service.resend(session, clock, service.get(session, webhookId), messageId)
    return JSONResponse(wire(service.message_to_wire(message)), status_code=202)


@router.post("/webhooks/{webhookId}/recover", operation_id="bankfeeds-recover-webhook-messages",
             status_code=202, tags=EXT_TAGS, openapi_extra=EXTENSION,
             responses=codat(202, CountOut, 400, method="POST", every=EVERY_EXTENSION))
def recover_webhook_messages(
    webhookId: WebhookIdDep, body: SinceBody, session: SessionDep, clock: ClockDep
) -> JSONResponse:
    count = service.recover(session, clock, service.get(session, webhookId), body.since)
    return JSONResponse(wire(CountOut(count=count)), status_code=202)


@router.post("/webhooks/{webhookId}/replay-missing", operation_id="bankfeeds-replay-missing-webhook-messages",
             status_code=202, tags=EXT_TAGS, openapi_extra=EXTENSION,
             responses=codat(202, CountOut, 400, method="POST", every=EVERY_EXTENSION))
def replay_missing_webhook_messages(
    webhookId: WebhookIdDep, body: SinceBody, session: SessionDep, clock: ClockDep
) -> JSONResponse:
    count = service.replay_missing(session, clock, service.get(session, webhookId), body.since)
    return JSONResponse(wire(CountOut(count=count)), status_code=202)
