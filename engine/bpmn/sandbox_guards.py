"""Size limits and runtime guards of the restricted sandbox: guarded operators, methods and builtins.

`sandbox` compiles every text so that `+`, `*`, `**`, `<<`, `%`, augmented assignment, f-strings (each
value and the joined result) and attribute access go through the helpers here (`GUARDS`), and runs it
with `BUILTINS`. Each helper refuses results beyond the limits below before building them, with a
`SizeLimitError` that names the limit ("script built a string of 100,000,000 characters; the limit is
10,000,000"). Text sizes of values formatted by `%` and f-strings are estimated by `text_size`. What
the guards cannot see (many values each under the limit) is caught by the memory limit in `sandbox`.
Knows nothing of SpiffWorkflow (see `expressions`).
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
    safer_getattr_raise,
)
from RestrictedPython.PrintCollector import PrintCollector

MAX_SIZE = 10_000_000  # items or characters one operation may produce
MAX_INT_BITS = 100_000  # about 30,000 decimal digits
MAX_FORMAT_WIDTH = 10_000
RANGE_LIMIT = 100_000
_SEQUENCES = (str, bytes, list, tuple)
_INT_OR_SEQUENCE = (int, *_SEQUENCES)


class SizeLimitError(ValueError):
    """A script's operation would build a value beyond `MAX_SIZE`; nothing was built."""


_NOUNS = {str: ("a string", "characters"), bytes: ("a bytes value", "bytes"), list: ("a list", "items"),
          tuple: ("a tuple", "items")}


def _too_big(size: int, like: Any = None, estimated: bool = False) -> None:
    """SizeLimitError if `size` (of a value of the type of `like`) is beyond MAX_SIZE; `estimated`:
    `size` is where `text_size` stopped counting, so the message says "more than the limit"."""
    if size > MAX_SIZE:
        noun, unit = _NOUNS.get(type(like), ("a value", "items"))
        amount = f"more than {MAX_SIZE:,}" if estimated else f"{size:,}"
        raise SizeLimitError(f"script built {noun} of {amount} {unit}; the limit is {MAX_SIZE:,}")


def text_size(value: Any, budget: int = MAX_SIZE) -> int:
    """About how many characters `str(value)` (or `repr`) has, without building it; counting stops
    once past `budget`, so a huge or self-containing container costs at most about `budget` steps."""
    total, stack = 0, [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or kind is bytes:
            total += len(item)
        elif kind is int:
            total += item.bit_length() // 3 + 1
        elif kind in (list, tuple, set, frozenset):
            total += 2 + 4 * len(item)  # brackets, separators, quotes
            if total <= budget:
                stack.extend(item)
        elif kind is dict:
            total += 2 + 8 * len(item)
            if total <= budget:
                stack.extend(item.keys())
                stack.extend(item.values())
        else:
            total += 40
        if total > budget:
            break
    return total


def _check_int_bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise ValueError(f"integer result too large (about {bits:,} bits, limit {MAX_INT_BITS:,})")


def _check_mul(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int):
        _check_int_bits(a.bit_length() + b.bit_length())
    elif isinstance(a, _SEQUENCES) and isinstance(b, int):
        _too_big(len(a) * b, a)
    elif isinstance(b, _SEQUENCES) and isinstance(a, int):
        _too_big(len(b) * a, b)


def _check_pow(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
        _check_int_bits(a.bit_length() * b)


def _check_lshift(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int) and a:
        _check_int_bits(a.bit_length() + b)


def _check_add(a: Any, b: Any) -> None:
    if isinstance(a, _SEQUENCES) and hasattr(b, "__len__"):
        _too_big(len(a) + len(b), a)


_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_width(digits: str | None) -> None:
    if digits == "*" or (digits and (len(digits) > 6 or int(digits) > MAX_FORMAT_WIDTH)):
        raise ValueError(f"format width/precision `{digits[:8]}` not allowed (limit {MAX_FORMAT_WIDTH})")


def _check_mod(a: Any, b: Any) -> None:
    like = a
    if isinstance(a, bytes):
        a = a.decode("latin-1")
    if isinstance(a, str) and "%" in a:
        specs = padding = 0
        for match in _PERCENT.finditer(a):
            for digits in match.group(1, 2):
                _check_width(digits)
                padding += int(digits) if digits else 0
            specs += 1
        # each value is formatted once, except by name (`%(k)s%(k)s`): then any spec may repeat the largest
        if type(b) is tuple:
            values = sum(text_size(v) for v in b)
        elif isinstance(b, dict):
            values = specs * max((text_size(v) for v in b.values()), default=0)
        else:
            values = specs * text_size(b)
        _too_big(len(a) + padding + values, like)


_SMALL = 1 << 31
_NUMBERS = (int, float)


def _add(a: Any, b: Any) -> Any:
    if type(a) not in _NUMBERS and isinstance(a, _SEQUENCES):
        _check_add(a, b)
    return a + b


def _mul(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is float or tb is float or (ta is int and tb is int and -_SMALL < a < _SMALL and -_SMALL < b < _SMALL):
        return a * b
    _check_mul(a, b)
    return a * b


def _pow(a: Any, b: Any) -> Any:
    _check_pow(a, b)
    return a**b


def _lshift(a: Any, b: Any) -> Any:
    _check_lshift(a, b)
    return a << b


def _mod(a: Any, b: Any) -> Any:
    if isinstance(a, (str, bytes)):
        _check_mod(a, b)
    return a % b


_INPLACE = {"+=": (_check_add, operator.iadd), "-=": (None, operator.isub), "*=": (_check_mul, operator.imul),
            "/=": (None, operator.itruediv), "//=": (None, operator.ifloordiv), "%=": (_check_mod, operator.imod),
            "**=": (_check_pow, operator.ipow), "<<=": (_check_lshift, operator.ilshift),
            ">>=": (None, operator.irshift), "&=": (None, operator.iand), "|=": (None, operator.ior),
            "^=": (None, operator.ixor), "@=": (None, operator.imatmul)}


def _inplacevar(op: str, a: Any, b: Any) -> Any:
    check, run = _INPLACE[op]
    if op == "+=" and isinstance(a, list) and not hasattr(b, "__len__"):
        b = list(b)  # `lst += map(f, lst)` would otherwise grow forever inside C
    if check is not None:
        check(a, b)
    return run(a, b)


def _format(value: Any, conversion: int, spec: str) -> str:
    _fvalue(value)
    value = {115: str, 114: repr, 97: ascii}.get(conversion, lambda v: v)(value)
    for digits in re.findall(r"\d+", spec):
        _check_width(digits)
    return format(value, spec)


def _fvalue(value: Any) -> Any:
    """One value of an f-string, passed on once its text is known not to be beyond the limit."""
    if type(value) is not str:
        _too_big(text_size(value), "", estimated=True)
    return value


def _fstring(parts: tuple[str, ...]) -> str:
    """An f-string's result from its pieces (each within the limit), unless the whole is beyond it."""
    _too_big(sum(len(part) for part in parts), "")
    return "".join(parts)


# Methods wrapped in Python frames: size-checked, and visible to the time limit's trace hook.
def _pad(obj: Any, method: Any, width: int, *rest: Any) -> Any:
    _too_big(width, obj)
    return method(width, *rest)


def _expandtabs(obj: Any, method: Any, tabsize: int = 8) -> Any:
    _too_big(len(obj) * max(tabsize, 1), obj)
    return method(tabsize)


def _replace(obj: Any, method: Any, old: Any, new: Any, count: int = -1) -> Any:
    hits = obj.count(old) if old else len(obj) + 1
    _too_big(len(obj) + (min(hits, count) if count >= 0 else hits) * (len(new) - len(old)), obj)
    return method(old, new, count)


def _join(obj: Any, method: Any, items: Any) -> Any:
    items = list(items)
    _too_big(sum(len(i) for i in items if isinstance(i, (str, bytes))) + len(obj) * max(len(items) - 1, 0), obj)
    return method(items)


# List growth is the one way C code (`any(map(items.append, items))`) can loop forever: check the deadline.
def _extend(check: Callable[[], bool], obj: list, method: Any, items: Any) -> None:
    check()
    items = list(items)
    _too_big(len(obj) + len(items), obj)
    method(items)


def _grow(check: Callable[[], bool], obj: list, method: Any, *args: Any) -> None:
    check()
    _too_big(len(obj) + 1, obj)
    method(*args)


_STR_METHODS = {"ljust": _pad, "rjust": _pad, "center": _pad, "zfill": _pad, "expandtabs": _expandtabs,
                "replace": _replace, "join": _join}
_LIST_METHODS = {"extend": _extend, "append": _grow, "insert": _grow}
_BLOCKED_ON_TYPES = frozenset(_STR_METHODS) | frozenset(_LIST_METHODS) | {"mro"}


def _no_check() -> bool:
    return True


def _make_getattr(check: Callable[[], bool]) -> Callable[[Any, str], Any]:
    """The `_getattr_` guard: RestrictedPython's safer_getattr, no `mro`, size-checked str/list methods."""

    def guarded_getattr(obj: Any, name: str) -> Any:
        if name == "mro" or (isinstance(obj, type) and name in _BLOCKED_ON_TYPES):
            raise AttributeError(f'attribute "{name}" is not allowed here')
        value = safer_getattr_raise(obj, name)
        if isinstance(obj, (str, bytes)) and name in _STR_METHODS:
            return functools.partial(_STR_METHODS[name], obj, value)
        if isinstance(obj, list) and name in _LIST_METHODS:
            return functools.partial(_LIST_METHODS[name], check, obj, value)
        return value

    return guarded_getattr


def _range(*args: int) -> range:
    result = range(*args)
    if len(result) > RANGE_LIMIT:
        raise ValueError(f"range() is limited to {RANGE_LIMIT:,} items")
    return result


def _sum(iterable: Any, /, start: Any = 0) -> Any:
    if isinstance(start, _SEQUENCES):
        raise TypeError("sum() of sequences is not allowed; use a comprehension")
    return sum(iterable, start)


def _pow_builtin(base: Any, exp: Any, mod: Any = None) -> Any:
    if mod is None:
        _check_pow(base, exp)
        return pow(base, exp)
    return pow(base, exp, mod)


class _TextType(type):
    """The metaclass of the sandbox's `str`: an instance check, class attributes and calls of the real
    `str`, the one-argument call (`str(value)`) refused when the text would be beyond the limit."""

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, str)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, str)

    def __getattr__(cls, name: str) -> Any:
        return safer_getattr_raise(str, name)  # as on the real `str`: no `format`, no `_` names

    def __call__(cls, *args: Any, **kwargs: Any) -> str:
        if len(args) == 1 and not kwargs:
            _fvalue(args[0])
        return str(*args, **kwargs)


class _SandboxStr(metaclass=_TextType):
    """`str` inside scripts (see _TextType)."""


def _repr(value: Any) -> str:
    _fvalue(value)
    return repr(value)


def _apply(func: Any, *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


_UNSAFE_BUILTINS = {"__build_class__", "setattr", "delattr", "BaseException", "KeyboardInterrupt", "SystemExit",
                    "GeneratorExit"}
BUILTINS: dict[str, Any] = {k: v for k, v in safe_builtins.items() if k not in _UNSAFE_BUILTINS}
BUILTINS.update(
    len=len, min=min, max=max, sum=_sum, sorted=sorted, abs=abs, round=round, any=any, all=all, str=_SandboxStr, repr=_repr,
    int=int, float=float, bool=bool, list=list, dict=dict, set=set, tuple=tuple, range=_range,
    enumerate=enumerate, zip=zip, isinstance=isinstance, filter=filter, map=map, reversed=reversed,
    divmod=divmod, pow=_pow_builtin, datetime=datetime, date=date, timedelta=timedelta, Decimal=Decimal,
)
GUARDS: dict[str, Any] = {
    "_getattr_": _make_getattr(_no_check), "_getitem_": operator.getitem, "_getiter_": iter, "_apply_": _apply,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence, "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard, "_inplacevar_": _inplacevar, "_print_": PrintCollector, "_format_": _format, "_fvalue_": _fvalue,
    "_fstring_": _fstring,
    "_deadline_check_": _no_check, "_add_": _add, "_mul_": _mul, "_pow_": _pow, "_lshift_": _lshift,
    "_mod_": _mod,
}
