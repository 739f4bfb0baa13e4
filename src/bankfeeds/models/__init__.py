"""Every ORM model, imported here so one metadata knows all tables."""

from bankfeeds.kit.db import Base
from bankfeeds.models.api_key import ApiKey
from bankfeeds.models.bank_transaction import BankTransaction
from bankfeeds.models.company import Company
from bankfeeds.models.connection import Connection
from bankfeeds.models.credential import Credential
from bankfeeds.models.event import Event
from bankfeeds.models.idempotency_key import IdempotencyKey
from bankfeeds.models.link_otp import LinkOtp
from bankfeeds.models.push_operation import PushOperation
from bankfeeds.models.source_account import SourceAccount

__all__ = [
    "ApiKey",
    "BankTransaction",
    "Base",
    "Company",
    "Connection",
    "Credential",
    "Event",
    "IdempotencyKey",
    "LinkOtp",
    "PushOperation",
    "SourceAccount",
]
