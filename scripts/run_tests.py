"""`make test`: the suite on SQLite, then on PostgreSQL.

PostgreSQL runs when it is reachable at 127.0.0.1:5432; under CI (CI=true) it is required.
Extra arguments go to pytest.
"""

from __future__ import annotations

import os
import subprocess
import sys


def postgres_reachable() -> bool:
    try:
        import psycopg

        url = os.environ.get("BANKFEEDS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
        with psycopg.connect(url, connect_timeout=3):
            return True
    except Exception:
        return False


def main() -> int:
    args = sys.argv[1:]
    runs = ["sqlite"]
    if postgres_reachable():
        runs.append("postgresql")
    elif os.environ.get("CI") == "true":
        print("PostgreSQL is required in CI but is not reachable at 127.0.0.1:5432", file=sys.stderr)
        return 1
    else:
        print("PostgreSQL not reachable: running on SQLite only", file=sys.stderr)
    for kind in runs:
        print(f"\n=== test suite on {kind} ===", flush=True)
        code = subprocess.call([sys.executable, "-m", "pytest", f"--db={kind}", "--durations=15", *args])
        if code != 0:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
