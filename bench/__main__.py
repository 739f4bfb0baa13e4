"""`python -m bench [name ...]`: run the benchmark modules.

Every ``bench/bench_<name>.py`` that defines ``main()`` registers itself just by existing; with
names on the command line (``python -m bench write``) only those run. Environment variables tune
each module (see its docstring).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

PREFIX = "bench_"


def discover() -> dict[str, Callable[[], object]]:
    found: dict[str, Callable[[], object]] = {}
    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda i: i.name):
        if not info.name.startswith(PREFIX):
            continue
        module = importlib.import_module(f"bench.{info.name}")
        main = getattr(module, "main", None)
        if callable(main):
            found[info.name.removeprefix(PREFIX)] = main
    return found


def run(argv: list[str]) -> int:
    benches = discover()
    wanted = argv or list(benches)
    unknown = [name for name in wanted if name not in benches]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(benches)}", file=sys.stderr)
        return 2
    for name in wanted:
        print(f"\n##### bench {name} #####", flush=True)
        started = time.perf_counter()
        benches[name]()
        print(f"##### bench {name} done in {time.perf_counter() - started:.1f} s #####", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
