"""Every ORM model, imported here so one metadata knows all tables."""

from bankfeeds.kit.db import Base
from bankfeeds.models.api_key import ApiKey
from bankfeeds.models.bank_transaction import BankTransaction
from bankfeeds.models.company import Company
from bankfeeds.models.connection import Connection
from bankfeeds.models.credential import Credential
from bankfeeds.models.demo_account import DemoAccount
from bankfeeds.models.demo_customer import DemoCustomer
from bankfeeds.models.demo_transaction import DemoTransaction
from bankfeeds.models.demo_webhook_endpoint import DemoWebhookEndpoint
from bankfeeds.models.demo_webhook_message import DemoWebhookMessage
from bankfeeds.models.event import Event
from bankfeeds.models.idempotency_key import IdempotencyKey
from bankfeeds.models.link_otp import LinkOtp
from bankfeeds.models.link_session import LinkSessionRecord
from bankfeeds.models.login_throttle import LoginThrottle
from bankfeeds.models.push_operation import PushOperation
from bankfeeds.models.sandbox_account import SandboxAccount
from bankfeeds.models.sandbox_bank_login import SandboxBankLogin
from bankfeeds.models.sandbox_bank_transaction import SandboxBankTransaction
from bankfeeds.models.sandbox_company import SandboxCompany
from bankfeeds.models.sandbox_feed import SandboxFeed
from bankfeeds.models.source_account import SourceAccount
from bankfeeds.models.webhook_attempt import WebhookAttempt
from bankfeeds.models.webhook_consumer import WebhookConsumer
from bankfeeds.models.webhook_message import WebhookMessage

__all__ = [
    "ApiKey",
    "BankTransaction",
    "Base",
    "Company",
    "Connection",
    "Credential",
    "DemoAccount",
    "DemoCustomer",
    "DemoTransaction",
    "DemoWebhookEndpoint",
    "DemoWebhookMessage",
    "Event",
    "IdempotencyKey",
    "LinkOtp",
    "LinkSessionRecord",
    "LoginThrottle",
    "PushOperation",
    "SandboxAccount",
    "SandboxBankLogin",
    "SandboxBankTransaction",
    "SandboxCompany",
    "SandboxFeed",
    "SourceAccount",
    "WebhookAttempt",
    "WebhookConsumer",
    "WebhookMessage",
]
