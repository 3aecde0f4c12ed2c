"""Restricted expressions and scripts: escapes refused, size and time guards, JUEL, deploy-time checks."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from engine.bpmn import expressions, sandbox
from engine.bpmn.expressions import check_expression, compile_expression, evaluate, execute, translate_juel
from engine.errors import ExpressionError


@pytest.fixture
def short_time_limit(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(sandbox, "SCRIPT_TIME_LIMIT_S", 0.3)  # read by sandbox._run at run time
    return 0.3


# --- escapes: every one fails with ExpressionError, at compile time or at run time -------------------------

ESCAPE_EXPRESSIONS = [
    "__import__('os')",
    "().__class__.__bases__[0].__subclasses__()",
    "[c for c in ().__class__.__base__.__subclasses__()]",
    "getattr((), '__class__')",
    "'{0.__class__}'.format(1)",
    "'{x.__globals__}'.format_map({'x': len})",
    "str.format('{0.__class__}', 1)",
    "open('/etc/passwd').read()",
    "type(x)",
    "(y for y in []).gi_frame.f_globals",
    "eval('1')",
    "exec('1')",
    "compile('1', 'f', 'eval')",
    "globals()",
    "vars()",
    "locals()",
    "dir()",
    "datetime.__class__",
    "len.__self__",
    "(lambda: 0).__code__",
    "Exception.mro()",
    "ValueError.mro()[-2]",
    "x.__class__",
    "setattr(x, 'y', 1)",
]


@pytest.mark.parametrize("text", ESCAPE_EXPRESSIONS)
def test_escape_attempts_in_expressions_raise_expression_error(text: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate(text, {"x": 1})


ESCAPE_SCRIPTS = [
    "import os",
    "from os import system",
    "f = lambda: 0\ncode = f.__code__",
    "def f():\n    return 1\ng = f.__globals__",
    "class A:\n    pass",
    "def gen():\n    yield 1",
    "raise SystemExit(1)",
    "raise KeyboardInterrupt",
    "try:\n    1 / 0\nexcept BaseException:\n    pass",
    "t = ().__class__",
    "e = None\ntry:\n    1 / 0\nexcept Exception as err:\n    e = err.__traceback__",
    "_x = 1",
]


@pytest.mark.parametrize("text", ESCAPE_SCRIPTS)
def test_escape_attempts_in_scripts_raise_expression_error(text: str) -> None:
    with pytest.raises(ExpressionError):
        execute(text, {})


def test_refusal_message_is_one_line_and_names_the_problem() -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression("__import__('os')")
    message = str(info.value)
    assert "\n" not in message
    assert "`__import__('os')`" in message and "names starting with '_' are not allowed" in message


def test_syntax_error_message_gives_the_line() -> None:
    with pytest.raises(ExpressionError, match="line 2"):
        compile_expression("x = 1\nif x\n", "exec")


def test_str_format_is_refused_at_run_time_with_its_reason() -> None:
    with pytest.raises(ExpressionError, match="format"):
        evaluate("'{0}'.format(1)", {})


# --- size guards -------------------------------------------------------------------------------------------

MEMORY_BOMBS = [
    "'a' * 10**9",
    "[0] * 10**9",
    "10 ** 10**8",
    "pow(10, 10**8)",
    "1 << 10**9",
    "(2**60) * (2**99990)",
    "'x'.ljust(10**9)",
    "'x'.center(10**9)",
    "('a' * 1000).replace('a', 'a' * 100000)",
    "'-'.join(['a' * 1000000] * 100)",
    "'%1000000000d' % 1",
    "'%*d' % (10**9, 1)",
    "f'{1:>1000000000}'",
    "f'{1.5:.1000000f}'",
    "sum([[1]] * 10, [])",
    "range(10**9)",
    "str.ljust('x', 10**9)",
]


@pytest.mark.parametrize("text", MEMORY_BOMBS)
def test_memory_bombs_are_refused_before_allocating(text: str) -> None:
    started = time.monotonic()
    with pytest.raises(ExpressionError):
        evaluate(text, {})
    assert time.monotonic() - started < 1.0


def test_doubling_a_string_in_a_loop_hits_the_size_limit() -> None:
    with pytest.raises(ExpressionError, match="the limit is 10,000,000"):
        execute("s = 'ab'\nwhile True:\n    s = s + s", {})


def test_list_growth_and_inplace_multiply_hit_the_size_limit() -> None:
    with pytest.raises(ExpressionError, match="the limit is 10,000,000"):
        execute("x = [1] * 10000000\nx.extend(x)", {})
    with pytest.raises(ExpressionError, match="the limit is 10,000,000"):
        execute("x = [1, 2]\nx *= 10**8", {})


# the three attacks of issue 11, item 4: each is refused, naming the limit it hit
ALLOCATION_ATTACKS = {
    "percent": ("x = '%s'*10 % (('a'*10**7,)*10)",
                r"script built a string of 100,000,020 characters; the limit is 10,000,000"),
    "f-strings": ("a = 'a'*10**7\nb = f'{a}{a}{a}{a}{a}'\nc = f'{b}{b}{b}{b}{b}{b}{b}{b}{b}{b}'",
                  r"\(line 2\): script built a string of 50,000,000 characters; the limit is 10,000,000"),
    "append loop": ("l = []\nwhile True:\n    l.append('a'*10**6)",
                    r"script made the process grow by more than 256 MB; the limit is 256 MB"),
}


@pytest.fixture
def long_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the memory limit can stop a runaway script, however slow a loaded machine is."""
    monkeypatch.setattr(sandbox, "SCRIPT_TIME_LIMIT_S", 60.0)


@pytest.mark.parametrize("name", ALLOCATION_ATTACKS)
def test_allocation_attacks_are_refused_naming_the_limit(name: str, long_time_limit: None) -> None:
    text, message = ALLOCATION_ATTACKS[name]
    data: dict = {}
    with pytest.raises(ExpressionError, match=message):
        execute(text, data)
    assert not any(isinstance(v, (str, list)) and len(v) > 10**7 for v in data.values())


def test_memory_limit_holds_when_the_script_catches_everything(long_time_limit: None) -> None:
    text = "l = []\nwhile True:\n    try:\n        l.append('a'*10**6)\n    except:\n        l = []"
    with pytest.raises(ExpressionError, match="the limit is 256 MB"):
        execute(text, {})


@pytest.mark.parametrize("text", [
    "f'{x!r:>20}' + f'{[x] * 3}'",
    "'%s-%05d %(k)s' % ('a', 7, ) if False else '%(k)s/%(k)s' % {'k': x}",
    "'-'.join(f'{i}:{x}' for i in range(100))",
    "str([x] * 1000) + '%s' % [x, {'a': 1}]",
])
def test_ordinary_formatting_still_works(text: str) -> None:
    assert isinstance(evaluate(text, {"x": "hello"}), str)


@pytest.mark.parametrize("text", ["str(['a' * 10**7] * 1000)", "repr(['a' * 10**6] * 100)",
                                  "f'{[\"a\" * 10**7] * 1000}'", "[str(x) for x in [['a' * 10**7] * 1000]]"])
def test_text_of_a_huge_container_is_refused_before_it_is_built(text: str) -> None:
    with pytest.raises(ExpressionError, match="script built a string of more than 10,000,000 characters; the limit"):
        evaluate(text, {})


def test_the_sandbox_str_still_behaves_as_str() -> None:
    assert evaluate("isinstance('a', str) and str.upper('a') == 'A' and str(5) == '5' and str() == ''", {})
    assert evaluate("sorted(map(str, [2, 1]), key=str) == ['1', '2'] and str(b'a', 'ascii') == 'a'", {})


def test_percent_by_name_counts_every_use_of_the_largest_value() -> None:
    with pytest.raises(ExpressionError, match="script built a string of 20,000,"):
        evaluate("'%(a)s%(a)s' % {'a': 'x' * 10**7}", {})
    with pytest.raises(ExpressionError, match="the limit is 10,000,000"):
        evaluate("'%s' % [['a' * 10**6] * 11]", {})


def test_the_process_stays_under_a_memory_bound_while_refusing_the_attacks() -> None:
    """Run in a fresh interpreter, so its peak resident size (ru_maxrss) is that of the attacks alone."""
    program = (
        "import json, resource, sys\n"
        "from engine.bpmn import sandbox\n"
        "from engine.bpmn.sandbox import execute, resident_bytes\n"
        "sandbox.SCRIPT_TIME_LIMIT_S = 60.0\n"
        "before = resident_bytes()\n"
        "for text in json.loads(sys.argv[1]):\n"
        "    try:\n"
        "        execute(text, {})\n"
        "    except Exception as err:\n"
        "        print(type(err).__name__, str(err)[-40:].replace(' ', '_'))\n"
        "print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)\n"
    )
    attacks = json.dumps([text for text, _ in ALLOCATION_ATTACKS.values()])
    done = subprocess.run([sys.executable, "-c", program, attacks], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[3])
    lines = done.stdout.split()
    assert lines[0:6:2] == ["ExpressionError"] * 3 and lines[5].endswith("the_limit_is_256_MB"), lines
    before, peak = int(lines[6]), int(lines[7])
    # the limit is 256 MB of growth, read every 2 ms by a watcher thread: on an idle machine the peak stays
    # under 256 + 200 MB above the start; on a loaded 2-core machine the watcher is scheduled late and the
    # script overshoots further (measured 486 and 498 MB of growth with four other test runs going), so the
    # bound is 256 + 400 MB: still half of what the same three scripts reach unguarded (about 1.3 GB)
    assert peak - before < (256 + 400) * 2**20


# --- time limit --------------------------------------------------------------------------------------------

def test_infinite_loop_script_is_stopped_by_the_two_second_limit() -> None:
    assert expressions.SCRIPT_TIME_LIMIT_S == 2.0
    started = time.monotonic()
    with pytest.raises(ExpressionError, match=r"script exceeded 2.0 s time limit"):
        execute("while True: pass", {})
    assert 1.9 < time.monotonic() - started < 3.0


LOOPS = [
    "x = 1\nwhile x: pass",
    "for i in range(1000):\n    for j in range(1000):\n        for k in range(1000):\n            pass",
    "xs = [i for i in range(1000) for j in range(1000) for k in range(1000)]",
    "def f():\n    try:\n        f()\n    except Exception:\n        f()\nf()",
    "def f():\n    try:\n        f()\n    finally:\n        f()\nf()",
    "f = lambda n: n and (f(n - 1), f(n - 1))\nf(100)",
    "try:\n    while True: pass\nexcept:\n    pass\nwhile True: pass",
    "try:\n    while True: pass\nfinally:\n    while True: pass",
    "while True:\n    try:\n        while True: pass\n    except:\n        pass",
    "x = [1]\nany(map(x.append, x))",
    "x = [1]\nfor v in x:\n    x.insert(0, v)",
]


@pytest.mark.parametrize("text", LOOPS)
def test_runaway_scripts_are_stopped_even_when_they_catch_everything(text: str, short_time_limit: float) -> None:
    started = time.monotonic()
    with pytest.raises(ExpressionError, match="time limit"):
        execute(text, {})
    assert time.monotonic() - started < short_time_limit + 1.0


def test_expression_with_nested_comprehensions_is_time_limited(short_time_limit: float) -> None:
    with pytest.raises(ExpressionError, match="expression exceeded"):
        evaluate("sum(1 for i in range(1000) for j in range(1000) for k in range(1000))", {})


def test_time_limit_works_outside_the_main_thread(short_time_limit: float) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            execute("while True:\n    x = 1", {})
        except BaseException as err:  # noqa: BLE001 - collected for the assertion
            errors.append(err)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(5)
    assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], ExpressionError)


# --- what works --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("amount * 2 + 1", 2001),
    ("amount >= 1000 and dept == 'it'", True),
    ("amount // 3, amount % 7, -amount, 2 ** 10", (333, 6, -1000, 1024)),
    ("order['lines'][1]['qty']", 5),
    ("[line['qty'] * 2 for line in order['lines'] if line['qty'] > 1]", [4, 10]),
    ("{k: len(v) for k, v in {'a': [1], 'b': [1, 2]}.items()}", {"a": 1, "b": 2}),
    ("sorted(tags, reverse=True)[0]", "urgent"),
    ("'%s-%03d' % (dept, 7)", "it-007"),
    ("f'{amount:,.2f} {dept!r}'", "1,000.00 'it'"),
    ("', '.join(tags).upper()", "A, URGENT"),
    ("max(amount, 5) if tags else None", 1000),
    ("isinstance(amount, int) and any(t == 'a' for t in tags)", True),
    ("(date(2024, 3, 1) - timedelta(days=1)).isoformat()", "2024-02-29"),
    ("datetime(2024, 1, 1, 12) + timedelta(hours=36)", datetime(2024, 1, 3, 0)),
    ("Decimal('0.10') + Decimal('0.20')", Decimal("0.30")),
    ("round(Decimal('2.675'), 2)", Decimal("2.68")),
    ("list(range(3)) + list(zip([1], [2]))", [0, 1, 2, (1, 2)]),
    ("divmod(7, 2), abs(-3), min([4, 2]), bool(''), str(1), float('1.5')", ((3, 1), 3, 2, False, "1", 1.5)),
])
def test_expressions_compute_with_the_vetted_builtins(text: str, expected: object) -> None:
    data = {"amount": 1000, "dept": "it", "tags": ["a", "urgent"],
            "order": {"lines": [{"qty": 2}, {"qty": 5}, {"qty": 1}]}}
    assert evaluate(text, data) == expected


def test_evaluate_leaves_the_context_untouched() -> None:
    data = {"x": 1}
    assert evaluate("x + 1", data) == 2
    assert data == {"x": 1}


def test_script_mutates_task_data_in_place_and_removes_helpers_and_callables() -> None:
    data = {"order": {"lines": [{"qty": 2, "price": 3}]}, "items": []}
    execute(
        "order['total'] = 0\n"
        "for line in order['lines']:\n"
        "    order['total'] += line['qty'] * line['price']\n"
        "items.append('x')\n"
        "items += ['y']\n"
        "count = 1\n"
        "count += 2\n"
        "a, (b, c) = 1, (2, 3)\n"
        "def double(v):\n"
        "    return v * 2\n"
        "doubled = [double(v) for v in [1, 2]]\n"
        "print('discarded')\n"
        "try:\n"
        "    1 / 0\n"
        "except ZeroDivisionError:\n"
        "    caught = True\n"
        "when = date(2024, 1, 1)\n",
        data,
    )
    assert data == {"order": {"lines": [{"qty": 2, "price": 3}], "total": 6}, "items": ["x", "y"], "count": 3,
                    "a": 1, "b": 2, "c": 3, "doubled": [2, 4], "caught": True, "when": date(2024, 1, 1),
                    "line": {"qty": 2, "price": 3}}


def test_script_failure_reports_type_message_and_line_and_still_cleans_up() -> None:
    data = {"x": 0}
    with pytest.raises(ExpressionError, match=r"\(line 2\): ZeroDivisionError: division by zero") as info:
        execute("y = 1\nz = y / x\n", data)
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert data == {"x": 0, "y": 1}


def test_external_context_is_visible_but_not_left_in_task_data() -> None:
    data = {"x": 2}
    execute("y = x * factor", data, {"factor": 21})
    assert data == {"x": 2, "y": 42}
    assert evaluate("x * factor", {"x": 2}, {"factor": 5}) == 10


def test_compiled_code_is_cached_per_source_text() -> None:
    assert compile_expression("a + b") is compile_expression("a + b")
    assert compile_expression("a + b", "exec") is not compile_expression("a + b")


# --- JUEL --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("juel", "python"), [
    ("${amount > 1000 && dept == 'it'}", "((amount > 1000) and (dept == 'it'))"),
    ("${!approved}", "(not approved)"),
    ("${a eq 'b'}", "(a == 'b')"),
    ("${x ne null and y ge 2 or not z}", "(((x != None) and (y >= 2)) or (not z))"),
    ("${empty items}", "(items in (None, '', [], {}))"),
    ("${note == 'a && b || !c eq d'}", "(note == 'a && b || !c eq d')"),
    ("${order.amount > 100}", "(order['amount'] > 100)"),
    ("${a > 10 ? 'big' : 'small'}", "('big' if (a > 10) else 'small')"),
    ("${items.size() == 2}", "(len(items) == 2)"),
    ("${dept}_managers", "str(dept) + '_managers'"),
    ("amount > 1000 && x", "amount > 1000 && x"),  # not JUEL: left for the Python compiler to judge
    ("  ${ok}  ", "ok"),
])
def test_translate_juel_parses_with_juel_precedence_and_prints_python(juel: str, python: str) -> None:
    assert translate_juel(juel) == python


@pytest.mark.parametrize(("juel", "reason"), [
    ("${order.empty}", "property name"),
    ("${execution.getVariable('x')}", "execution"),
    ("${x.foo()}", "foo"),
])
def test_juel_outside_the_translated_subset_is_refused_with_a_reason(juel: str, reason: str) -> None:
    message = check_expression(juel, "condition")
    assert message is not None and "JUEL" in message and reason in message, message


@pytest.mark.parametrize(("text", "data", "expected"), [
    ("${amount > 1000 && dept == 'it'}", {"amount": 1500, "dept": "it"}, True),
    ("${!approved}", {"approved": False}, True),
    ("${x != 1}", {"x": 1}, False),
    ("${a eq 'b'}", {"a": "b"}, True),
    ("${note == 'x && y'}", {"note": "x && y"}, True),
    ("${empty items || total gt 3}", {"items": [1], "total": 4}, True),
    ("${empty comment == false}", {"comment": "ok"}, True),  # `empty` binds tighter than `==`
    ("${empty count}", {"count": 0}, False),  # JUEL: 0 is not empty
    ("${order.amount > 100 && order.customer.vip}", {"order": {"amount": 101, "customer": {"vip": True}}}, True),
    ("${status.equals('new') ? 1 : 2}", {"status": "new"}, 1),
])
def test_juel_conditions_evaluate(text: str, data: dict, expected) -> None:
    assert evaluate(text, data) == expected and type(evaluate(text, data)) is type(expected)


# --- deploy-time checks ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "kind"), [
    ("amount > 1000", "condition"),
    ("${approved && amount lt 5}", "condition"),
    ("len(items)", "cardinality"),
    ("done", "completion"),
    ("x = 1\nfor i in range(3):\n    x += i\n", "script"),
    ('"PT48H"', "timer"),
    ("'P1D'", "timer"),
    ("due_date", "timer"),
])
def test_check_expression_accepts_valid_texts(text: str, kind: str) -> None:
    assert check_expression(text, kind) is None


@pytest.mark.parametrize(("text", "kind", "fragment"), [
    ("x = 1", "condition", "SyntaxError"),
    ("__import__('os')", "condition", "names starting with '_'"),
    ("import os", "script", "import statements are not allowed"),
    ("amount >", "cardinality", "line 1"),
    ("PT48H", "timer", 'timer expression `PT48H` must be a quoted string, e.g. "PT48H"'),
    ("P1D", "timer", "must be a quoted string"),
    ("R3/PT10M", "timer", "must be a quoted string"),
    ("2024-05-01T10:00:00", "timer", "must be a quoted string"),
])
def test_check_expression_reports_what_is_wrong(text: str, kind: str, fragment: str) -> None:
    message = check_expression(text, kind)
    assert message is not None and fragment in message
    assert "\n" not in message


def test_check_expression_refuses_unknown_kinds() -> None:
    with pytest.raises(ValueError, match="unknown expression kind"):
        check_expression("x", "guess")
