"""Serial numbers (流水号): parse patterns such as `HR-{yyyy}{mm}-{seq:4}`, give their reset scope, format them.
Tokens: {yyyy} {yy} {mm} {dd} {seq} {seq:N} {process}; `{{` and `}}` are literal braces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

MAX_WIDTH = 12
SIMPLE_TOKENS = ("yyyy", "yy", "mm", "dd", "process")

_PIECE_RE = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]|[^{}]+")


@dataclass(frozen=True)
class Token:
    """A placeholder of a pattern; `width` is the zero padding of `seq` (0: no padding)."""

    name: str
    width: int = 0


Part = str | Token


def _seq_token(name: str, pattern: str) -> Token:
    width_text = name.removeprefix("seq:")
    if not (width_text.isascii() and width_text.isdigit() and 1 <= int(width_text) <= MAX_WIDTH):
        raise ValueError(
            f"invalid sequence token `{{{name}}}` in serial pattern {pattern!r}: "
            f"use {{seq}} or {{seq:N}} with N from 1 to {MAX_WIDTH}"
        )
    return Token("seq", int(width_text))


def _token(name: str, pattern: str) -> Token:
    if name in SIMPLE_TOKENS:
        return Token(name)
    if name == "seq":
        return Token("seq")
    if name.startswith("seq:"):
        return _seq_token(name, pattern)
    raise ValueError(
        f"unknown token `{{{name}}}` in serial pattern {pattern!r}; "
        "known tokens: {yyyy} {yy} {mm} {dd} {seq} {seq:N} {process}"
    )


def _pieces(pattern: str) -> list[Part]:
    """Split a pattern into literal text and tokens, merging adjacent literals."""
    parts: list[Part] = []
    for match in _PIECE_RE.finditer(pattern):
        piece = match.group(0)
        if piece in ("{", "}"):
            raise ValueError(
                f"unmatched `{piece}` in serial pattern {pattern!r}; write `{piece * 2}` for a literal brace"
            )
        if match.group(1) is not None:
            parts.append(_token(match.group(1), pattern))
            continue
        text = piece[0] if piece in ("{{", "}}") else piece
        if parts and isinstance(parts[-1], str):
            parts[-1] += text
        else:
            parts.append(text)
    return parts


def _check_when(when: object) -> date:
    if not isinstance(when, date):
        raise ValueError(f"serial date must be a date or datetime, got {type(when).__name__}")
    return when


@dataclass(frozen=True)
class SerialPattern:
    """A parsed serial pattern: the source text and its parts (literal strings and tokens)."""

    pattern: str
    parts: tuple[Part, ...]

    @property
    def names(self) -> frozenset[str]:
        return frozenset(part.name for part in self.parts if isinstance(part, Token))

    @property
    def width(self) -> int:
        """Zero padding of the sequence number (0 for a plain `{seq}`)."""
        return next(part.width for part in self.parts if isinstance(part, Token) and part.name == "seq")

    @property
    def reset(self) -> str:
        """When the sequence restarts: "daily", "monthly", "yearly" or "never" (the finest date token)."""
        names = self.names
        if "dd" in names:
            return "daily"
        if "mm" in names:
            return "monthly"
        return "yearly" if names & {"yyyy", "yy"} else "never"

    def scope(self, when: date) -> str:
        """Reset scope key of a date: "2026-11-25" daily, "2026-11" monthly, "2026" yearly, "" never."""
        day = _check_when(when)
        keys = {
            "daily": f"{day.year:04d}-{day.month:02d}-{day.day:02d}",
            "monthly": f"{day.year:04d}-{day.month:02d}",
            "yearly": f"{day.year:04d}",
            "never": "",
        }
        return keys[self.reset]

    def format(self, when: date, seq: int, process: str = "") -> str:
        """The serial number for a date and sequence number; a too long sequence is printed in full."""
        day = _check_when(when)
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
            raise ValueError(f"sequence number must be a non-negative integer: {seq!r}")
        if not isinstance(process, str):
            raise ValueError(f"process must be a string: {process!r}")
        values = {
            "yyyy": f"{day.year:04d}",
            "yy": f"{day.year % 100:02d}",
            "mm": f"{day.month:02d}",
            "dd": f"{day.day:02d}",
            "process": process,
        }
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            elif part.name == "seq":
                out.append(str(seq).zfill(part.width))
            else:
                out.append(values[part.name])
        return "".join(out)


def parse_pattern(pattern: str) -> SerialPattern:
    """Parse and validate a serial pattern; exactly one `{seq}`/`{seq:N}` token (1 <= N <= 12) is required.

    Raises ValueError naming the problem (unknown token, bad width, unmatched brace, seq count).
    """
    if not isinstance(pattern, str):
        raise ValueError(f"serial pattern must be a string, got {type(pattern).__name__}")
    parts = tuple(_pieces(pattern))
    seq_count = sum(1 for part in parts if isinstance(part, Token) and part.name == "seq")
    if seq_count != 1:
        problem = "has no {seq} token" if seq_count == 0 else f"has {seq_count} sequence tokens, only one is allowed"
        raise ValueError(f"serial pattern {pattern!r} {problem}")
    return SerialPattern(pattern, parts)
