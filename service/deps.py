"""FastAPI dependencies: the settings and the loaded engine, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from evsum.engine import Engine
from evsum.errors import IndexNotReadyError
from evsum.settings import Settings


def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    """The loaded engine, or 503 (index not ready) with the reason it could not load."""
    engine: Engine | None = request.app.state.engine
    if engine is None:
        raise IndexNotReadyError(request.app.state.load_error or "the index is not loaded")
    return engine


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
