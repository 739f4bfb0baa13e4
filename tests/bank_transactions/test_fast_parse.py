"""The fast lane of create-bank-transactions bodies (``schemas.parse_fast``) against the reference
path (``jsonutil.loads`` under the input policy, then ``CreateBankTransactions.model_validate``).

The lane may pass a body on (None) whenever it likes; what it must never do is accept a body the
reference refuses, or give anything but exactly what the reference gives: the same values, of the
same types, Decimals with the same digits and exponent, the same fields set.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import simplejson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bankfeeds.bank_transactions.schemas import MAX_TRANSACTIONS, CreateBankTransactions, parse_fast
from bankfeeds.errors import BadRequest
from bankfeeds.kit import http, jsonutil
from tests.bank_transactions.test_bad_input import BAD_BODIES

REFUSED = "refused"


def reference(raw: bytes) -> CreateBankTransactions | str:
    try:
        return CreateBankTransactions.model_validate(jsonutil.loads(raw))
    except (BadRequest, ValidationError):
        return REFUSED


def exact(body: CreateBankTransactions) -> Any:
    """Everything a parsed body holds, Decimals by their exact text, each value with its type."""
    return (
        type(body.account_id), body.account_id, sorted(body.model_fields_set),
        [(type(t).__name__, sorted(t.model_fields_set), t.__pydantic_extra__, t.__pydantic_private__,
          [(name, type(value).__name__, repr(value)) for name, value in t.__dict__.items()])
         for t in body.transactions],
    )


def assert_agrees(raw: bytes) -> CreateBankTransactions | None:
    """The fast lane passes ``raw`` on, or gives exactly what the reference gives."""
    fast = parse_fast(raw)
    if fast is None:
        return None
    expected = reference(raw)
    assert expected != REFUSED, f"the fast lane accepted a body the reference refuses: {raw[:400]!r}"
    assert isinstance(expected, CreateBankTransactions)
    assert exact(fast) == exact(expected), raw[:400]
    assert fast == expected
    assert http.wire(fast) == http.wire(expected)
    return fast


def body(*txns: dict[str, Any], account: str = "acc-1", ensure_ascii: bool = False) -> bytes:
    text = simplejson.dumps({"accountId": account, "transactions": list(txns)}, use_decimal=True,
                            ensure_ascii=ensure_ascii)
    return text.encode("utf-8", "surrogatepass")


TXN = {"id": "t1", "date": "2026-11-23T10:00:00", "description": "Card payment", "amount": Decimal("-12.50"),
       "balance": Decimal("100.00"), "transactionType": "Debit"}


def test_a_usual_batch_takes_the_fast_lane_and_equals_the_reference() -> None:
    txns = [{**TXN, "id": f"t{i}", "counterparty": "Shop", "reference": f"r{i}", "reconciled": i % 2 == 0}
            for i in range(MAX_TRANSACTIONS)]
    parsed = assert_agrees(body(*txns))
    assert parsed is not None and len(parsed.transactions) == MAX_TRANSACTIONS
    first = parsed.transactions[0]
    assert first.date == datetime(2026, 11, 23, 10, 0) and first.amount == Decimal("-12.50")
    assert str(first.amount) == "-12.50" and first.transaction_type == "Debit"


def test_what_the_fast_lane_takes() -> None:
    """Bodies it vouches for, each the reference's result exactly (absent fields, nulls, integers,
    exponents, negative zero, offsets dropped, dates alone, non-ASCII and escaped text)."""
    cases = [
        body({"id": "t1"}),
        body({"id": "t1", "date": None, "amount": None, "transactionType": None}),
        body({**TXN, "amount": 5, "balance": -0}),
        body({**TXN, "amount": Decimal("1E+2"), "balance": Decimal("-0.0")}),
        body({**TXN, "amount": Decimal("0.0000000000000000000000000001")}),
        body({**TXN, "amount": Decimal("1E-28"), "balance": Decimal("9999999999999999999999999999")}),
        body({**TXN, "date": "2026-11-23T10:00:00+05:30"}),
        body({**TXN, "date": "2026-11-23"}),
        body({**TXN, "date": " 2026-11-23T10:00:00Z "}),
        body({**TXN, "description": "Café £5 — 日本 😀"}),
        body({**TXN, "description": "Café £5 — 日本 😀", "counterparty": 'a "quoted" \\ name\n'}, ensure_ascii=True),
        body(TXN, {**TXN, "id": "t2"}, account="é" * 200),
        body(),
    ]
    for raw in cases:
        assert assert_agrees(raw) is not None, raw


def test_what_the_fast_lane_passes_on() -> None:
    """Bodies it does not vouch for (the reference then decides; several are fine)."""
    cases = [
        body({**TXN, "transaction_type": "Debit"}),  # pydantic takes the field name too
        body({**TXN, "unknown": 1}),  # ignored by the reference, but the policy walks it
        body({**TXN, "unknown": [[[1]]]}),
        body(TXN, account="x" * 201),
        body({**TXN, "amount": "1.50"}),
        body({**TXN, "amount": True}),
        body({**TXN, "amount": 10**28}),
        body({**TXN, "amount": Decimal("1E+28")}),
        body({**TXN, "amount": Decimal("1E-29")}),
        body({**TXN, "date": "0999-12-31T00:00:00"}),
        body({**TXN, "date": "9001-01-01T00:00:00"}),
        body({**TXN, "date": " " * 70 + "2026-11-23"}),
        body({**TXN, "description": "a\x00b"}, ensure_ascii=True),
        body({**TXN, "description": "a\u202eb"}),
        body({**TXN, "description": "a\x7fb"}),
        body({**TXN, "description": "a\ud800b"}, ensure_ascii=True),
        body(*[TXN] * (MAX_TRANSACTIONS + 1)),
        b'{"accountId":"acc-1","transactions":[],"extra":true}',
        b'{"account_id":"acc-1","transactions":[]}',
        b'{"accountId":"acc-1","transactions":[{"id":5,"id":"t1"}]}',
        b"\xff{}",
        *BAD_BODIES,
    ]
    for raw in cases:
        assert parse_fast(raw) is None, raw[:300]


def test_every_bad_body_is_still_worded_by_the_reference() -> None:
    """``parse_model``'s 400 for each bad body is the reference's, word for word."""
    for raw in BAD_BODIES:
        if not raw.strip():
            continue
        try:
            http.validate_model(jsonutil.loads(raw), CreateBankTransactions)
        except BadRequest as exc:
            expected = (exc.message, exc.errors)
        else:
            raise AssertionError(f"the reference took {raw!r}")
        try:
            http.parse_model(raw, CreateBankTransactions)
        except BadRequest as exc:
            assert (exc.message, exc.errors) == expected
        else:
            raise AssertionError(f"parse_model took {raw!r}")


def test_duplicate_keys_keep_the_last_value_as_the_reference_does() -> None:
    raw = (b'{"accountId":"a","accountId":"acc-1","transactions":[{"id":"t1","amount":1.5,"amount":2.50,'
           b'"date":"2026-01-01","date":"2026-01-02T03:04:05"}]}')
    parsed = assert_agrees(raw)
    assert parsed is not None and parsed.account_id == "acc-1"
    assert str(parsed.transactions[0].amount) == "2.50" and parsed.transactions[0].date == datetime(2026, 1, 2, 3, 4, 5)


# -------------------------------------------------------------------------- generated bodies

_texts = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", " ", "t1", "x" * 200, "x" * 201, "x" * 256, "a\x00", "a\x1f", "a\x7f", "a\x85", "a\u202a",
                     "a\u2066", "a\ud800", "\U0001f600" * 3, "tab\there", "new\nline", 'quote"', "back\\slash"]),
)
_numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.decimals(allow_nan=False, allow_infinity=False, places=None),
    st.sampled_from([Decimal(s) for s in ("-0", "-0.0", "0E-30", "0E+40", "1E+2", "1e-28", "1e-29", "1E+27",
                                          "1E+28", "9999999999999999999999999999.5", "0.1000", "NaN", "Infinity")]),
)
_dates = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.date().isoformat()),
    st.sampled_from(["2026-11-23T10:00:00+14:00", "2026-11-23T10:00:00-12:00", "2026-11-23T10:00:00Z",
                     " 2026-11-23 ", "2026-11-23 10:00", "20261123", "2026-W47-1", "23/11/2026", "2026-13-01",
                     "0999-12-31T23:59:59", "1000-01-01T00:00:00", "9000-12-31T00:00:00", "9000-12-31T00:00:01",
                     "", "T10:00"]),
)
_anything = st.one_of(st.none(), st.booleans(), st.integers(), _texts, _numbers, st.lists(st.integers(), max_size=2),
                      st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
_FIELD_VALUES = {
    "id": st.one_of(_texts, _anything),
    "date": st.one_of(_dates, _anything),
    "description": st.one_of(_texts, _anything),
    "counterparty": st.one_of(_texts, _anything),
    "reference": st.one_of(_texts, _anything),
    "reconciled": st.one_of(st.booleans(), _anything),
    "amount": st.one_of(_numbers, _anything),
    "balance": st.one_of(_numbers, _anything),
    "transactionType": st.one_of(st.sampled_from(["Credit", "Debit", "Unknown", "Other", "credit", "Refund"]),
                                 _anything),
    "transaction_type": st.sampled_from(["Credit", "Debit"]),
    "extra": _anything,
}


def mostly(valid: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``valid`` nine times in ten, ``other`` the tenth: bodies near the edge, on both sides of it."""
    return st.integers(0, 9).flatmap(lambda n: other if n == 0 else valid)


# Text the policy takes (no control, format or surrogate character).
_clean = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Cf")), max_size=12)
_valid = {
    "id": st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Cf")), min_size=1, max_size=12),
    "date": st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(8999, 1, 1)).map(lambda d: d.isoformat()),
    "description": _clean, "counterparty": _clean, "reference": _clean, "reconciled": st.booleans(),
    "amount": st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-10**9, max_value=10**9),
    "balance": st.one_of(st.integers(-10**9, 10**9), st.decimals(allow_nan=False, allow_infinity=False, places=4,
                                                                   min_value=-10**9, max_value=10**9)),
    "transactionType": st.sampled_from(["Credit", "Debit", "Unknown", "Other", "DirectDep"]),
}
_transactions = st.fixed_dictionaries(
    {}, optional={**{name: mostly(_valid[name], values) for name, values in _FIELD_VALUES.items() if name in _valid},
                  "transaction_type": mostly(st.nothing(), _FIELD_VALUES["transaction_type"]),
                  "extra": mostly(st.nothing(), _anything)})
_bodies = st.fixed_dictionaries(
    {"transactions": mostly(st.lists(_transactions, max_size=4), _anything)},
    optional={"accountId": mostly(_valid["id"], _FIELD_VALUES["id"]),
              "account_id": mostly(st.nothing(), _texts), "other": mostly(st.nothing(), _anything)},
)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=_bodies, ensure_ascii=st.booleans())
def test_generated_bodies_agree(document: dict[str, Any], ensure_ascii: bool) -> None:
    raw = simplejson.dumps(document, use_decimal=True, ensure_ascii=ensure_ascii, allow_nan=True)
    assert_agrees(raw.encode("utf-8", "surrogatepass"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(txns=st.lists(st.fixed_dictionaries({name: _valid[name] for name in ("id", "date", "amount", "balance")},
                                           optional={name: _valid[name] for name in _valid
                                                     if name not in ("id", "date", "amount", "balance")}),
                     max_size=5),
       ensure_ascii=st.booleans())
def test_generated_valid_bodies_take_the_fast_lane(txns: list[dict[str, Any]], ensure_ascii: bool) -> None:
    """Well-formed bodies (any text the policy takes, escaped or not) are the fast lane's, exactly."""
    assert assert_agrees(body(*txns, ensure_ascii=ensure_ascii)) is not None
