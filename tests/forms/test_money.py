"""Tests for forms.money: capital numerals (大写金额), the strict amount parser and display formatting."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forms.money import decimal_places, format_money, grouped, parse_money, to_capital

ALLOWED = set("零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整")
_DIGITS = {ch: i for i, ch in enumerate("零壹贰叁肆伍陆柒捌玖")}
_UNITS = {"拾": 1, "佰": 2, "仟": 3}
ZERO = "zero"


# --- an independent strict reader of capital numerals, used as an oracle ----------------------------------


def _section_items(text: str, base: int) -> list:
    """(digit, power of ten) items and ZERO markers of one section (no 万/亿 inside)."""
    items: list = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "零":
            items.append(ZERO)
            i += 1
            continue
        assert ch in _DIGITS and ch != "零", f"unexpected {ch!r} in {text!r}"
        unit = text[i + 1] if i + 1 < len(text) and text[i + 1] in _UNITS else ""
        items.append((_DIGITS[ch], base + _UNITS.get(unit, 0)))
        i += 2 if unit else 1
    return items


def _wan_items(text: str, base: int) -> list:
    high, sep, low = text.partition("万")
    if not sep:
        return _section_items(text, base)
    return _section_items(high, base + 4) + _section_items(low, base)


def _integer_items(text: str) -> list:
    high, sep, low = text.partition("亿")
    if not sep:
        return _wan_items(text, 0)
    return _wan_items(high, 8) + _wan_items(low, 0)


def _fraction_items(text: str) -> list:
    items: list = []
    for i, ch in enumerate(text):
        if ch == "零":
            items.append(ZERO)
        elif ch in ("角", "分"):
            continue
        else:
            unit = text[i + 1]
            assert unit in ("角", "分"), f"digit without 角/分 in {text!r}"
            items.append((_DIGITS[ch], -1 if unit == "角" else -2))
    return items


def _needs_zero(high: int, low: int) -> bool:
    """The chosen rule: is 零 written between non-zero digits at powers `high` > `low`?"""
    if high - low == 1 or low == -1:
        return False  # adjacent digits, or a zero 元 digit before 角 (20.30 -> 贰拾元叁角)
    if low == -2:
        return True  # zero 角 between the integer part and 分 (1.05 -> 壹元零伍分)
    # only the tail of the higher section is zero and the lower section starts at 仟: no 零
    return not (low % 4 == 3 and high // 4 == low // 4 + 1)


def _from_capital(text: str) -> Decimal:
    """Read capital numerals back, asserting that every 零 (and its absence) follows the chosen rules."""
    if text == "零元整":
        return Decimal("0.00")
    assert set(text) <= ALLOWED
    body = text.removesuffix("整")
    assert "整" not in body
    integer_text, has_yuan, fraction_text = body.rpartition("元") if "元" in body else ("", "", body)
    assert bool(integer_text) == bool(has_yuan)
    assert text.endswith("整") == bool(has_yuan and not fraction_text), text
    items = (_integer_items(integer_text) if integer_text else []) + _fraction_items(fraction_text)
    assert items and items[0] != ZERO and items[-1] != ZERO, text
    digits = [item for item in items if item != ZERO]
    powers = [power for _, power in digits]
    assert powers == sorted(powers, reverse=True) and len(set(powers)) == len(powers), text
    for before, after in zip(items, items[1:], strict=False):
        assert not (before == ZERO and after == ZERO), f"double 零 in {text}"
    for current, following in zip(digits, digits[1:], strict=False):
        high, low = current[1], following[1]
        between = items[items.index(current) + 1 : items.index(following)]
        assert (between == [ZERO]) == _needs_zero(high, low), f"零 rule broken between {high} and {low} in {text}"
    return sum((Decimal(digit) * Decimal(10) ** power for digit, power in digits), Decimal("0.00"))


# --- to_capital: examples -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (0, "零元整"),
        ("0", "零元整"),
        (Decimal("0.00"), "零元整"),
        ("0.05", "伍分"),
        ("0.5", "伍角"),
        ("0.55", "伍角伍分"),
        (10, "壹拾元整"),
        ("1234.50", "壹仟贰佰叁拾肆元伍角"),
        (Decimal("1234.5"), "壹仟贰佰叁拾肆元伍角"),
        ("100000000.01", "壹亿元零壹分"),
        (100000, "壹拾万元整"),
        (10005, "壹万零伍元整"),
        (1010, "壹仟零壹拾元整"),
        (100010000, "壹亿零壹万元整"),
        ("1.05", "壹元零伍分"),
        ("20.30", "贰拾元叁角"),
        (1, "壹元整"),
        (15, "壹拾伍元整"),
        (110, "壹佰壹拾元整"),
        (1001, "壹仟零壹元整"),
        ("1409.50", "壹仟肆佰零玖元伍角"),
        ("6007.14", "陆仟零柒元壹角肆分"),
        ("1680.32", "壹仟陆佰捌拾元叁角贰分"),
        ("107000.53", "壹拾万柒仟元伍角叁分"),
        ("16409.02", "壹万陆仟肆佰零玖元零贰分"),
        ("325.04", "叁佰贰拾伍元零肆分"),
        (100001000, "壹亿零壹仟元整"),
        (100000001, "壹亿零壹元整"),
        (110000000, "壹亿壹仟万元整"),
        (10**12, "壹万亿元整"),
        (10**12 + 10**8, "壹万零壹亿元整"),
        (1234567800000000, "壹仟贰佰叁拾肆万伍仟陆佰柒拾捌亿元整"),
        ("9999999999999999.99", "玖仟玖佰玖拾玖万玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
        ("10000.5", "壹万元伍角"),
        ("1,234.50", "壹仟贰佰叁拾肆元伍角"),
        (0.1, "壹角"),
        (12.5, "壹拾贰元伍角"),
        (Decimal("1E+2"), "壹佰元整"),
        (Decimal("3.000"), "叁元整"),
    ],
)
def test_to_capital_examples(amount, expected):
    assert to_capital(amount) == expected
    assert _from_capital(expected) == Decimal(str(amount).replace(",", ""))


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (-1, "amount must not be negative: -1"),
        ("-0.01", "must not be negative"),
        (Decimal("-5"), "must not be negative"),
        ("1.234", "more than 2 decimal places"),
        (0.001, "more than 2 decimal places"),
        (Decimal("NaN"), "finite"),
        (Decimal("Infinity"), "finite"),
        (float("inf"), "finite"),
        (float("nan"), "finite"),
        (10**16, "below 10**16"),
        ("10000000000000000.00", "below 10**16"),
        (True, "not a boolean"),
        (None, "not NoneType"),
        ([1], "not list"),
        ("", "empty"),
        ("abc", "not a valid amount"),
        ("1e3", "not a valid amount"),
    ],
)
def test_to_capital_refuses(amount, message):
    with pytest.raises(ValueError, match=message.replace("*", r"\*")):
        to_capital(amount)


@given(st.integers(min_value=0, max_value=10**14).map(lambda cents: Decimal(cents) / 100))
def test_to_capital_round_trip_up_to_a_trillion(amount):
    text = to_capital(amount)
    assert set(text) <= ALLOWED
    assert _from_capital(text) == amount


@given(st.integers(min_value=0, max_value=10**18 - 1).map(lambda cents: Decimal(cents).scaleb(-2)))
def test_to_capital_round_trip_full_range(amount):
    assert _from_capital(to_capital(amount)) == amount


@given(st.integers(min_value=0, max_value=10**16 - 1))
def test_to_capital_integers_end_with_yuan_zheng(amount):
    text = to_capital(amount)
    assert text.endswith("元整")
    assert "零零" not in text
    for unit in "万亿元":
        assert f"零{unit}" not in text or text == "零元整"


# --- parse_money ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (12, "12.00"),
        (0, "0.00"),
        (Decimal("1.5"), "1.50"),
        (Decimal("1.500"), "1.50"),
        ("1234.5", "1234.50"),
        ("1,234.50", "1234.50"),
        ("1,234,567", "1234567.00"),
        (" 12 ", "12.00"),
        ("\u300012\u3000", "12.00"),
        ("１２３.４", "123.40"),
        ("-3.2", "-3.20"),
        ("-0", "0.00"),
        (0.1, "0.10"),
        (19.99, "19.99"),
        (1e20, "100000000000000000000.00"),
        ("123456789012345678901234567890.12", "123456789012345678901234567890.12"),
    ],
)
def test_parse_money_accepts(value, expected):
    result = parse_money(value)
    assert isinstance(result, Decimal)
    assert str(result) == expected


@pytest.mark.parametrize(
    "value",
    [
        True,
        False,
        None,
        "",
        "   ",
        "1e5",
        "1E5",
        "1.005",
        0.1 + 0.2,
        0.001,
        "1,23",
        "12,34.5",
        "1.",
        ".5",
        "+5",
        "¥5",
        "5 元",
        "NaN",
        "inf",
        float("nan"),
        Decimal("sNaN"),
        [5],
        {"a": 1},
    ],
)
def test_parse_money_refuses(value):
    with pytest.raises(ValueError):
        parse_money(value)


def test_parse_money_places():
    assert str(parse_money("1.234", places=3)) == "1.234"
    assert str(parse_money("7", places=0)) == "7"
    with pytest.raises(ValueError, match="more than 0 decimal places"):
        parse_money("7.5", places=0)
    with pytest.raises(ValueError, match="places"):
        parse_money("7", places=-1)
    with pytest.raises(ValueError, match="places"):
        parse_money("7", places=True)


def test_parse_money_error_messages_are_clear():
    with pytest.raises(ValueError, match="more than 2 decimal places: 1.005"):
        parse_money("1.005")
    with pytest.raises(ValueError, match="amount is empty"):
        parse_money(" ")
    with pytest.raises(ValueError, match="not a boolean"):
        parse_money(True)


def test_decimal_places():
    assert decimal_places(Decimal("1.50")) == 1
    assert decimal_places(Decimal("100")) == 0
    assert decimal_places(Decimal("1E+3")) == 0
    assert decimal_places(Decimal("0.00")) == 0
    assert decimal_places(Decimal("0.050")) == 2
    assert decimal_places(Decimal("100.0")) == 0


# --- format_money --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        (Decimal("1234.5"), "CNY", "¥1,234.50"),
        (Decimal("0"), "CNY", "¥0.00"),
        (Decimal("1234567.891"), "CNY", "¥1,234,567.89"),
        (Decimal("0.005"), "CNY", "¥0.01"),
        (Decimal("-3"), "USD", "-$3.00"),
        (Decimal("999.999"), "EUR", "€1,000.00"),
        (Decimal("1234.5"), "GBP", "GBP 1,234.50"),
        (Decimal("-1234.5"), "JPY", "JPY -1,234.50"),
        (Decimal("-0.001"), "CNY", "¥0.00"),
        (12, "cny", "¥12.00"),
        ("1,000", "usd", "$1,000.00"),
    ],
)
def test_format_money(value, currency, expected):
    assert format_money(value, currency) == expected


def test_format_money_default_currency_and_errors():
    assert format_money(Decimal("1234.50")) == "¥1,234.50"
    for currency in ("", "YUAN", "¥", None, "C1Y"):
        with pytest.raises(ValueError, match="currency"):
            format_money(Decimal(1), currency)
    with pytest.raises(ValueError):
        format_money(True)


@pytest.mark.parametrize(("text", "shown"), [
    ("0", "0"), ("999", "999"), ("12800", "12,800"), ("12800.5", "12,800.5"), ("-1234567.25", "-1,234,567.25"),
    ("1e+20", "1e+20"), ("nan", "nan"), ("", "")])
def test_a_numbers_thousands_are_grouped_and_its_decimals_kept(text, shown):
    assert grouped(text) == shown
