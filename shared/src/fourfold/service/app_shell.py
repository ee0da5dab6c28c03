"""The parts of a FastAPI app every service has: errors, metrics, liveness and readiness."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from fourfold.errors import error_body, install_error_handlers
from fourfold.metrics import install_metrics

ReadinessCheck = Callable[[], Awaitable[str | None]]  # None when ready, else the reason


def install_shell(
    app: FastAPI, *, service: str, readiness: Callable[[FastAPI], Sequence[ReadinessCheck]]
) -> None:
    """Add the error handlers, /metrics, /healthz and /readyz to `app`."""
    install_error_handlers(app)
    install_metrics(app, service=service)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], response_model=None)
    async def readyz() -> JSONResponse | dict[str, str]:
        """Readiness: the broker and the database are reachable."""
        problems = [reason for check in readiness(app) if (reason := await check()) is not None]
        if problems:
            return JSONResponse(error_body("not_ready", problems), status_code=503)
        return {"status": "ready"}
