"""Money helpers: Chinese capital numerals (大写金额), a strict amount parser and display formatting.
Every amount is handled as a `Decimal`, never as a float.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Context, Decimal

DIGITS = "零壹贰叁肆伍陆柒捌玖"
CAPITAL_LIMIT = 10**16
CURRENCY_SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€"}

_SECTION_UNITS = ("", "拾", "佰", "仟")
_BIG_UNITS = (("亿", 10**8), ("万", 10**4))
_AMOUNT_RE = re.compile(r"-?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?")
_CURRENCY_RE = re.compile(r"[A-Z]{3}")

Amount = Decimal | int | float | str


def _parse_text(value: str) -> Decimal:
    """Parse an amount typed by a person: `1234.5`, `1,234.50`, ` 12 `, full-width digits (NFKC)."""
    text = unicodedata.normalize("NFKC", value).strip()
    if not text:
        raise ValueError("amount is empty")
    if not _AMOUNT_RE.fullmatch(text):
        raise ValueError(f"not a valid amount: {value!r} (expected digits such as 1234.50 or 1,234.50)")
    return Decimal(text.replace(",", ""))


def _to_decimal(value: object) -> Decimal:
    """Convert an int, Decimal, float (through `str()`) or numeric string to a finite Decimal."""
    if isinstance(value, bool):
        raise ValueError(f"amount must be a number, not a boolean: {value}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(str(value))
    elif isinstance(value, str):
        result = _parse_text(value)
    else:
        raise ValueError(f"amount must be a number or a numeric string, not {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"amount must be a finite number: {value}")
    return result


def decimal_places(value: Decimal) -> int:
    """Number of significant decimal places of a finite Decimal (`1.50` -> 1, `100` -> 0)."""
    _, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int) or exponent >= 0 or not any(digits):
        return 0
    text = "".join(map(str, digits))
    trailing_zeros = len(text) - len(text.rstrip("0"))
    return max(0, -exponent - trailing_zeros)


def _quantize(value: Decimal, places: int) -> Decimal:
    """Round half-up to `places` decimals, with enough precision for any magnitude; -0 becomes 0."""
    context = Context(prec=max(28, value.adjusted() + places + 2), rounding=ROUND_HALF_UP)
    result = value.quantize(Decimal((0, (1,), -places)), context=context)
    return result.copy_abs() if result.is_zero() else result


def parse_money(value: object, *, places: int = 2) -> Decimal:
    """Strictly parse a money amount and return it as a Decimal with exactly `places` decimals.

    Accepts int, Decimal, float (only when `str(value)` has at most `places` decimals) and strings
    such as "1234.5", "1,234.50", " 12 ", "-3.20" (full-width digits are normalized with NFKC).
    Refuses bool, empty strings, exponent notation, NaN/infinity, misplaced thousands separators
    and more than `places` decimals, with a ValueError. The sign is kept: range checks such as a
    field's `min` belong to the caller.
    """
    if isinstance(places, bool) or not isinstance(places, int) or places < 0:
        raise ValueError(f"places must be a non-negative integer: {places!r}")
    amount = _to_decimal(value)
    if decimal_places(amount) > places:
        raise ValueError(f"amount has more than {places} decimal places: {value}")
    return _quantize(amount, places)


def _section(number: int) -> str:
    """Capital numerals of 0 < number < 10**4; a run of inner zeros becomes one 零, trailing zeros vanish."""
    out: list[str] = []
    pending_zero = False
    for exponent in (3, 2, 1, 0):
        digit = number // 10**exponent % 10
        if digit == 0:
            pending_zero = bool(out)
            continue
        if pending_zero:
            out.append("零")
            pending_zero = False
        out.append(DIGITS[digit] + _SECTION_UNITS[exponent])
    return "".join(out)


def _integer(number: int) -> str:
    """Capital numerals of 0 < number < 10**16, with 亿 and 万 (`X万Y亿` for the top eight digits)."""
    for unit, size in _BIG_UNITS:
        if number >= size:
            high, low = divmod(number, size)
            gap = "零" if 0 < low < size // 10 else ""
            return _integer(high) + unit + gap + (_integer(low) if low else "")
    return _section(number)


def _checked_amount(amount: object) -> Decimal:
    value = _to_decimal(amount)
    if value < 0:
        raise ValueError(f"amount must not be negative: {amount}")
    if decimal_places(value) > 2:
        raise ValueError(f"amount has more than 2 decimal places: {amount}")
    if value >= CAPITAL_LIMIT:
        raise ValueError(f"amount is too large, it must be below 10**16: {amount}")
    return value


def to_capital(amount: Amount) -> str:
    """Write a non-negative amount (at most 2 decimals, below 10**16) in Chinese capital numerals.

    Rules (common Chinese banking practice, 《支付结算办法》 on writing 大写金额):
    - digits 零壹贰叁肆伍陆柒捌玖, units 拾佰仟 inside a four-digit section, sections 万 and 亿;
      the top eight digits are a count of 亿 (`壹万亿`, `壹仟贰佰叁拾肆万伍仟陆佰柒拾捌亿`).
      A leading ten is written `壹拾` (10 -> 壹拾元整).
    - a run of zeros between two non-zero digits of a section is written as one 零 (1010 -> 壹仟零壹拾元整);
      zeros at the end of a section are not written.
    - a lower part that starts with zeros gets one 零 after 万/亿 (10005 -> 壹万零伍元整,
      100010000 -> 壹亿零壹万元整, 100001000 -> 壹亿零壹仟元整); when only the end of the higher
      section is zero, no 零 is written (107000 -> 壹拾万柒仟元整, one of the two allowed forms).
    - 元 is written whenever the integer part is not zero. A zero 元 digit before a non-zero 角 gets
      no 零 (20.30 -> 贰拾元叁角); a zero 角 between a non-zero integer part and a non-zero 分 gets one
      零 (1.05 -> 壹元零伍分, 100000000.01 -> 壹亿元零壹分).
    - amounts below one start at 角 or 分 (0.5 -> 伍角, 0.05 -> 伍分); zero is 零元整.
    - 整 follows 元 only (10 -> 壹拾元整); nothing follows 角 or 分 (1234.50 -> 壹仟贰佰叁拾肆元伍角).

    Accepts Decimal, int, numeric strings (as `parse_money`) and floats through `str()`; refuses
    bool. Raises ValueError for negative amounts, more than 2 decimals, NaN/infinity and 10**16 or more.
    """
    value = _checked_amount(amount)
    yuan, cents = divmod(int(value * 100), 100)
    if yuan == 0 and cents == 0:
        return "零元整"
    jiao, fen = divmod(cents, 10)
    parts = [_integer(yuan) + "元"] if yuan else []
    if jiao:
        parts.append(DIGITS[jiao] + "角")
    elif fen and yuan:
        parts.append("零")
    if fen:
        parts.append(DIGITS[fen] + "分")
    if not cents:
        parts.append("整")
    return "".join(parts)


def _currency_code(currency: object) -> str:
    code = currency.strip().upper() if isinstance(currency, str) else ""
    if not _CURRENCY_RE.fullmatch(code):
        raise ValueError(f"currency must be a three-letter code such as CNY: {currency!r}")
    return code


def format_money(value: Amount, currency: str = "CNY") -> str:
    """Format an amount for display with thousands separators and 2 decimals (rounded half up).

    CNY, USD and EUR use their symbol ("¥1,234.50", "-$3.00"); other currencies put the code
    first ("GBP 1,234.50", "JPY -5.00"). Raises ValueError for a bad amount or currency code.
    """
    code = _currency_code(currency)
    amount = _quantize(_to_decimal(value), 2)
    sign = "-" if amount < 0 else ""
    number = f"{amount.copy_abs():,.2f}"
    symbol = CURRENCY_SYMBOLS.get(code)
    return f"{sign}{symbol}{number}" if symbol else f"{code} {sign}{number}"


def grouped(text: str) -> str:
    """A number's text with thousands separators, its decimals as they are ("12800" -> "12,800",
    "-1234567.25" -> "-1,234,567.25"); text that is no plain decimal number (1e+20, nan) as it is."""
    whole, dot, fraction = text.partition(".")
    if not whole.lstrip("-").isdigit():
        return text
    sign = "-" if whole.startswith("-") else ""
    return f"{sign}{int(whole.lstrip('-')):,}{dot}{fraction}"
