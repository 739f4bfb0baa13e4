"""Print the exact versions of bankfeeds' runtime dependencies installed here (for deploy/constraints.txt).

Run from a venv where bankfeeds is installed: python deploy/freeze_constraints.py > deploy/constraints.txt
Only what `pip install bankfeeds` pulls in is listed (not the dev extra), so the image holds nothing else.
"""

from __future__ import annotations

import importlib.metadata as md
import re

from packaging.requirements import Requirement


def closure(name: str, extras: tuple[str, ...] = (), seen: dict[str, str] | None = None) -> dict[str, str]:
    seen = {} if seen is None else seen
    key = re.sub(r"[-_.]+", "-", name).lower()
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        return seen
    if key in seen and not extras:
        return seen
    seen[key] = dist.version
    for raw in dist.requires or []:
        req = Requirement(raw)
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in ("", *extras)):
            closure(req.name, tuple(req.extras), seen)
    return seen


def main() -> None:
    pins = closure("bankfeeds")
    pins.pop("bankfeeds")
    print("# Exact versions of bankfeeds' runtime dependencies for the image (deploy/Containerfile).")
    print("# Regenerate from a working venv with: python deploy/freeze_constraints.py > deploy/constraints.txt")
    for name, version in sorted(pins.items()):
        print(f"{name}=={version}")


if __name__ == "__main__":
    main()
