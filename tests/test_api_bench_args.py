"""bench/api_bench.py parses its arguments (the bench itself is not run by the tests)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


def _bench():
    path = Path(__file__).resolve().parents[1] / "bench" / "api_bench.py"
    spec = importlib.util.spec_from_file_location("api_bench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_api_bench_parses_its_arguments():
    bench = _bench()
    args = bench.parse_args(["--instances", "50", "--concurrency", "4", "--low", "10", "--skip-naive"])
    assert (args.instances, args.concurrency, args.low, args.workers, args.skip_naive) == (50, 4, 10, 2, True)
    with pytest.raises(SystemExit):
        bench.parse_args(["--instances", "10", "--low", "10"])
    assert bench.percentile([float(i) for i in range(1, 101)], 99) == 99.0
