"""Every ORM model, imported here so one metadata knows all tables."""

from bankfeeds.kit.db import Base
from bankfeeds.models.api_key import ApiKey
from bankfeeds.models.bank_transaction import BankTransaction
from bankfeeds.models.company import Company
from bankfeeds.models.connection import Connection, ConnectionStatus
from bankfeeds.models.credential import Credential
from bankfeeds.models.demo_account import DemoAccount
from bankfeeds.models.demo_clock import DemoClock
from bankfeeds.models.demo_customer import DemoCustomer
from bankfeeds.models.demo_transaction import DemoTransaction
from bankfeeds.models.demo_webhook_endpoint import DemoWebhookEndpoint
from bankfeeds.models.demo_webhook_message import DemoWebhookMessage
from bankfeeds.models.event import Event, EventType
from bankfeeds.models.feed_pull import FeedPull
from bankfeeds.models.idempotency_key import IdempotencyKey
from bankfeeds.models.link_otp import LinkOtp, LinkOtpRedemption
from bankfeeds.models.link_session import LinkSessionRecord
from bankfeeds.models.login_throttle import LoginThrottle
from bankfeeds.models.operator import Operator
from bankfeeds.models.operator_audit import OperatorAudit
from bankfeeds.models.operator_session import OperatorSession
from bankfeeds.models.push_operation import PushOperation, PushOperationStatus
from bankfeeds.models.sandbox_account import SandboxAccount
from bankfeeds.models.sandbox_bank_login import SandboxBankLogin
from bankfeeds.models.sandbox_bank_transaction import SandboxBankTransaction
from bankfeeds.models.sandbox_company import SandboxCompany
from bankfeeds.models.sandbox_feed import SandboxFeed
from bankfeeds.models.source_account import SourceAccount, SourceAccountStatus
from bankfeeds.models.statement_delivery import StatementDelivery, StatementDeliveryStatus
from bankfeeds.models.webhook_attempt import WebhookAttempt
from bankfeeds.models.webhook_consumer import WebhookConsumer
from bankfeeds.models.webhook_message import WebhookMessage
from bankfeeds.models.xero_authorization import XeroAuthorization
from bankfeeds.models.xero_budget import XeroBudget
from bankfeeds.models.xero_call import XeroCall
from bankfeeds.models.xero_grant import XeroGrant
from bankfeeds.models.xero_sandbox_account import XeroSandboxAccount
from bankfeeds.models.xero_sandbox_auth_code import XeroSandboxAuthCode
from bankfeeds.models.xero_sandbox_call import XeroSandboxCall
from bankfeeds.models.xero_sandbox_client import XeroSandboxClient
from bankfeeds.models.xero_sandbox_connection import XeroSandboxConnection
from bankfeeds.models.xero_sandbox_feed_connection import XeroSandboxFeedConnection
from bankfeeds.models.xero_sandbox_grant import XeroSandboxGrant
from bankfeeds.models.xero_sandbox_idempotency_key import XeroSandboxIdempotencyKey
from bankfeeds.models.xero_sandbox_membership import XeroSandboxMembership
from bankfeeds.models.xero_sandbox_organisation import XeroSandboxOrganisation
from bankfeeds.models.xero_sandbox_statement import XeroSandboxStatement
from bankfeeds.models.xero_sandbox_statement_line import XeroSandboxStatementLine
from bankfeeds.models.xero_sandbox_token import XeroSandboxToken
from bankfeeds.models.xero_sandbox_user import XeroSandboxUser

# The demo surfaces' tables (QuickBooks sandbox, Xero sandbox, demo bank). Their revisions live on
# the migrations' "demo" branch, applied only in demo mode: a production database never has them.
DEMO_MODELS: tuple[type[Base], ...] = (
    DemoAccount, DemoClock, DemoCustomer, DemoTransaction, DemoWebhookEndpoint, DemoWebhookMessage,
    SandboxAccount, SandboxBankLogin, SandboxBankTransaction, SandboxCompany, SandboxFeed,
    XeroSandboxAccount, XeroSandboxAuthCode, XeroSandboxCall, XeroSandboxClient, XeroSandboxConnection,
    XeroSandboxFeedConnection, XeroSandboxGrant, XeroSandboxIdempotencyKey, XeroSandboxMembership,
    XeroSandboxOrganisation, XeroSandboxStatement, XeroSandboxStatementLine, XeroSandboxToken, XeroSandboxUser,
)
DEMO_TABLES: frozenset[str] = frozenset(model.__tablename__ for model in DEMO_MODELS)

__all__ = [
    "DEMO_MODELS",
    "DEMO_TABLES",
    "ApiKey",
    "BankTransaction",
    "Base",
    "Company",
    "Connection",
    "ConnectionStatus",
    "Credential",
    "DemoAccount",
    "DemoClock",
    "DemoCustomer",
    "DemoTransaction",
    "DemoWebhookEndpoint",
    "DemoWebhookMessage",
    "Event",
    "EventType",
    "FeedPull",
    "IdempotencyKey",
    "LinkOtp",
    "LinkOtpRedemption",
    "LinkSessionRecord",
    "LoginThrottle",
    "Operator",
    "OperatorAudit",
    "OperatorSession",
    "PushOperation",
    "PushOperationStatus",
    "SandboxAccount",
    "SandboxBankLogin",
    "SandboxBankTransaction",
    "SandboxCompany",
    "SandboxFeed",
    "SourceAccount",
    "SourceAccountStatus",
    "StatementDelivery",
    "StatementDeliveryStatus",
    "WebhookAttempt",
    "WebhookConsumer",
    "WebhookMessage",
    "XeroAuthorization",
    "XeroBudget",
    "XeroCall",
    "XeroGrant",
    "XeroSandboxAccount",
    "XeroSandboxAuthCode",
    "XeroSandboxCall",
    "XeroSandboxClient",
    "XeroSandboxConnection",
    "XeroSandboxFeedConnection",
    "XeroSandboxGrant",
    "XeroSandboxIdempotencyKey",
    "XeroSandboxMembership",
    "XeroSandboxOrganisation",
    "XeroSandboxStatement",
    "XeroSandboxStatementLine",
    "XeroSandboxToken",
    "XeroSandboxUser",
]
