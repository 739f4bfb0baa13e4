"""The one JSON parser (kit/jsonutil.loads): the fast parser gives exactly what the reference
parser gives, and whatever the policy refuses is still refused, with the reference wording."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import simplejson

from bankfeeds.errors import BadRequest
from bankfeeds.kit import inputs, jsonutil


def reference(raw: bytes) -> Any:
    value = simplejson.loads(raw, parse_float=inputs.parse_decimal, parse_int=inputs.parse_int,
                             parse_constant=inputs.parse_constant)
    return inputs.check_json(value)


ACCEPTED = [
    b'{"amount": 1.50, "balance": -0.10, "n": 3, "big": 1E+2, "tiny": 1.0e-7}',
    b'{"int64": 9223372036854775808, "neg": -9223372036854775809}',
    b'{"i": ' + b"9" * 64 + b', "j": -' + b"9" * 63 + b"}",
    b'{"k": -' + b"9" * 64 + b"}",  # 65 characters: a Decimal for the reference parser (in range)
    b'{"text": "caf\xc3\xa9 \\"quoted\\" \\\\ back \\n line \\t tab \\u00e9", "t": true, "f": false, "z": null}',
    b'{"dup": 1, "dup": 2}',
    b" [1, 2.0, [[], {}]] ",
    b'{"a": "' + b"x" * 65536 + b'"}',
    b"[" * 32 + b"]" * 32,
]

REFUSED = [
    b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}',
    b'{"i": ' + b"9" * 65 + b"}", b'{"i": ' + b"9" * 5000 + b"}",
    b'{"a": 1E+400}', b'{"a": 1.' + b"1" * 70 + b"}",
    b'{"a": "\\u0000"}', b'{"a": "nul \\u0000 inside"}', b'{"a": "\\ud800"}', b'{"a": "\\udc00x"}',
    b'{"\\u0000key": 1}', b'{"a": "\\b"}', b'{"a": "\\f"}', b'{"a": "\xc2\x85"}', b'{"a": "\x7f"}',
    b'{"a": "\xe2\x80\xae"}', b'{"a": "\\u202e"}', b'{"a": "\xe2\x81\xa6"}',
    b'{"a": "' + b"x" * 65537 + b'"}',
    b"[" * 33 + b"]" * 33, b"[" * 5000 + b"]" * 5000,
    b'{"a": "x\ty"}', b"\xff", b'{"a": 1} x', b"{'a': 1}", b'{"a": 01}', b"",
]


@pytest.mark.parametrize("raw", ACCEPTED)
def test_what_is_accepted_parses_exactly_as_the_reference_parser_does(raw: bytes) -> None:
    fast = jsonutil.loads(raw)
    assert fast == reference(raw)
    assert repr(fast) == repr(reference(raw))  # same types: Decimal stays Decimal, int stays int


def test_money_is_exact() -> None:
    value = jsonutil.loads(b'{"amount": 0.1, "balance": 12345678901234567890.123456789}')
    assert value == {"amount": Decimal("0.1"), "balance": Decimal("12345678901234567890.123456789")}
    assert all(type(v) is Decimal for v in value.values())


@pytest.mark.parametrize("raw", REFUSED)
def test_what_the_policy_or_json_refuses_is_refused_with_the_reference_wording(raw: bytes) -> None:
    with pytest.raises(BadRequest) as fast:
        jsonutil.loads(raw)
    try:
        reference(raw)
    except BadRequest as exc:
        assert fast.value.message == exc.message
        assert type(fast.value) is type(exc)
    except (simplejson.JSONDecodeError, UnicodeDecodeError, RecursionError):
        pass  # loads words these itself (not valid JSON / nested too deep)
    else:
        pytest.fail("the reference accepts it")
