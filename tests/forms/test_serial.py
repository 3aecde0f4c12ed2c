"""Tests for forms.serial: serial number (流水号) patterns, reset scopes and formatting."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forms.serial import SerialPattern, Token, parse_pattern

WHEN = datetime(2026, 11, 25, 9, 30)


@pytest.mark.parametrize(
    ("pattern", "seq", "expected"),
    [
        ("HR-{yyyy}{mm}-{seq:4}", 12, "HR-202611-0012"),
        ("{yy}{mm}{dd}{seq:3}", 7, "261125007"),
        ("PO{yyyy}-{seq}", 42, "PO2026-42"),
        ("{process}-{seq:5}", 1, "leave-00001"),
        ("{seq:1}", 9, "9"),
        ("{seq:12}", 1, "000000000001"),
        ("{{{seq:2}}}", 3, "{03}"),
        ("a{{b}}c-{seq}", 5, "a{b}c-5"),
        ("申请-{yyyy}年{mm}月-{seq:3}号", 8, "申请-2026年11月-008号"),
        ("{seq:4}", 0, "0000"),
    ],
)
def test_format(pattern, seq, expected):
    assert parse_pattern(pattern).format(WHEN, seq, process="leave") == expected


def test_format_pads_dates_and_accepts_plain_dates():
    pattern = parse_pattern("{yyyy}-{yy}-{mm}-{dd}-{seq}")
    assert pattern.format(date(2005, 3, 7), 1) == "2005-05-03-07-1"
    assert pattern.format(date(999, 1, 1), 1) == "0999-99-01-01-1"


def test_overflow_is_printed_in_full():
    pattern = parse_pattern("X-{seq:3}")
    assert pattern.format(WHEN, 999) == "X-999"
    assert pattern.format(WHEN, 1000) == "X-1000"
    assert pattern.format(WHEN, 123456789) == "X-123456789"


def test_process_is_left_as_given():
    pattern = parse_pattern("{process}/{seq}")
    assert pattern.format(WHEN, 1, process="PurchaseOrder") == "PurchaseOrder/1"
    assert pattern.format(WHEN, 1) == "/1"


@pytest.mark.parametrize(
    ("pattern", "reset", "scope"),
    [
        ("HR-{yyyy}{mm}{dd}-{seq:4}", "daily", "2026-11-25"),
        ("{dd}-{seq}", "daily", "2026-11-25"),
        ("HR-{yyyy}{mm}-{seq:4}", "monthly", "2026-11"),
        ("{mm}-{seq}", "monthly", "2026-11"),
        ("HR-{yyyy}-{seq:4}", "yearly", "2026"),
        ("HR-{yy}-{seq:4}", "yearly", "2026"),
        ("HR-{seq:6}", "never", ""),
        ("{process}-{seq:6}", "never", ""),
    ],
)
def test_scope(pattern, reset, scope):
    parsed = parse_pattern(pattern)
    assert parsed.reset == reset
    assert parsed.scope(WHEN) == scope
    assert parsed.scope(WHEN.date()) == scope


def test_scope_changes_exactly_when_the_finest_token_changes():
    monthly = parse_pattern("{yyyy}{mm}{seq:3}")
    assert monthly.scope(date(2026, 11, 1)) == monthly.scope(date(2026, 11, 30))
    assert monthly.scope(date(2026, 11, 30)) != monthly.scope(date(2026, 12, 1))
    assert monthly.scope(date(2026, 12, 1)) != monthly.scope(date(2027, 12, 1))


def test_parts_and_width():
    parsed = parse_pattern("HR-{yyyy}{{-{seq:4}")
    assert isinstance(parsed, SerialPattern)
    assert parsed.parts == ("HR-", Token("yyyy"), "{-", Token("seq", 4))
    assert parsed.width == 4
    assert parse_pattern("{seq}").width == 0
    assert parsed.pattern == "HR-{yyyy}{{-{seq:4}"


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("HR-{yyyy}", "no {seq} token"),
        ("", "no {seq} token"),
        ("{{seq}}", "no {seq} token"),
        ("{seq}-{seq:3}", "2 sequence tokens"),
        ("{foo}-{seq}", "unknown token `{foo}`"),
        ("{YYYY}-{seq}", "unknown token `{YYYY}`"),
        ("{ seq }", "unknown token `{ seq }`"),
        ("{}{seq}", "unknown token `{}`"),
        ("{seq:0}", "from 1 to 12"),
        ("{seq:13}", "from 1 to 12"),
        ("{seq:-1}", "from 1 to 12"),
        ("{seq:x}", "from 1 to 12"),
        ("{seq:}", "from 1 to 12"),
        ("{seq", "unmatched `{`"),
        ("HR-{yyyy-{seq}", "unmatched `{`"),
        ("HR}-{seq}", "unmatched `}`"),
    ],
)
def test_parse_pattern_refuses(pattern, message):
    with pytest.raises(ValueError) as info:
        parse_pattern(pattern)
    assert message in str(info.value)


def test_parse_pattern_refuses_non_strings():
    with pytest.raises(ValueError, match="must be a string"):
        parse_pattern(None)


@pytest.mark.parametrize("seq", [-1, True, 1.0, "1", None])
def test_format_refuses_bad_sequence_numbers(seq):
    with pytest.raises(ValueError, match="sequence number"):
        parse_pattern("{seq}").format(WHEN, seq)


def test_format_refuses_bad_dates_and_process():
    with pytest.raises(ValueError, match="date"):
        parse_pattern("{seq}").format("2026-11-25", 1)
    with pytest.raises(ValueError, match="date"):
        parse_pattern("{yyyy}{seq}").scope("2026-11-25")
    with pytest.raises(ValueError, match="process"):
        parse_pattern("{seq}").format(WHEN, 1, process=None)


@given(
    st.text(alphabet=st.characters(blacklist_characters="{}", blacklist_categories=("Cs",)), max_size=10),
    st.integers(min_value=1, max_value=12),
    st.integers(min_value=0, max_value=10**14),
)
def test_literal_text_and_padding(prefix, width, seq):
    text = parse_pattern(f"{prefix}{{seq:{width}}}").format(WHEN, seq)
    assert text.startswith(prefix)
    number = text[len(prefix):]
    assert int(number) == seq
    assert len(number) == max(width, len(str(seq)))
