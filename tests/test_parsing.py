"""Cell parsers: the fast paths give the answers of the libraries they stand for."""

from __future__ import annotations

import datetime as _dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import imei

from dotation_docs.parsing import InvalidValueError, luhn_is_valid, parse_date, parse_imei


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


# --- dates typed as text ------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["05/11/2024", "5.11.2024", "05-11-2024", "2024-11-05", "05/11/2024 16:00",
                                  "05/11/2024 16h00", "05/11/2024 16:00:00", "2024-11-05 10:00",
                                  "2024-11-05T10:00:00", "2024-11-05T10:00:00.123+01:00", "2024-11-05T10:00Z"])
def test_a_date_typed_as_text_may_carry_a_time_of_day_in_either_form(text: str) -> None:
    """The same time of day is ignored after a French or an ISO date, as in a date cell."""
    assert parse_date(text) == _dt.date(2024, 11, 5)


@pytest.mark.parametrize("text", ["2024-11-05 n'importe quoi", "2024-11-05abc", "05/11/2024 midi",
                                  "05/11/2024 16", "2024-11-05 10:00 et demie"])
def test_anything_else_after_a_date_is_not_a_date(text: str) -> None:
    with pytest.raises(InvalidValueError):
        parse_date(text)
