from __future__ import annotations

from fastapi import FastAPI

from bankfeeds.kit.surfaces import SurfaceRegistry


def mount(app: FastAPI, surfaces: SurfaceRegistry) -> None:
    pass
