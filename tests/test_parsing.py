"""Cell parsers: the fast paths give the answers of the libraries they stand for."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import imei

from dotation_docs.parsing import InvalidValueError, luhn_is_valid, parse_imei


@settings(max_examples=500, deadline=None)
@given(digits=st.text(alphabet="0123456789", min_size=15, max_size=15))
def test_imei_key_is_checked_as_stdnum_checks_it(digits: str) -> None:
    assert luhn_is_valid(digits) == imei.is_valid(digits)


def test_imei_with_a_wrong_key_is_refused_with_its_reason() -> None:
    assert parse_imei("490154203237518") == "490154203237518"
    assert parse_imei("49-015420-323751-8") == "490154203237518"
    try:
        parse_imei("490154203237519")
    except InvalidValueError as err:
        assert "clé de contrôle" in err.detail
    else:
        raise AssertionError("accepted")
