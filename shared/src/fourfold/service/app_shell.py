"""The parts of a FastAPI app every service has, installed by one call to `install_shell`:

- the error handlers (`fourfold.errors`) and, outside them, `ShellMiddleware`
  (`fourfold.service.edge`): request id, storable path and query parameters, the bearer
  token checked before a body is read, the body bounded in size and time, and a JSON
  catch-all for every unexpected exception;
- /metrics, /healthz and /readyz;
- an OpenAPI document listing the statuses the shell answers (`fourfold.service.openapi`);
- /docs and /redoc served with assets from the `fastapi-offline` package, so they work on a
  machine without internet.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from fourfold.errors import error_body, install_error_handlers, request_id_of
from fourfold.metrics import install_metrics
from fourfold.service.edge import ShellMiddleware
from fourfold.service.openapi import error_responses, install_openapi

ReadinessCheck = Callable[[], Awaitable[str | None]]  # None when ready, else the reason

DOCS_ASSETS = "/docs-assets"
"""Where the Swagger UI and ReDoc files are served from (the service itself)."""


def install_shell(
    app: FastAPI, *, service: str, readiness: Callable[[FastAPI], Sequence[ReadinessCheck]]
) -> None:
    """Add the shell to `app` (whose `state.settings` and `state.clock` are set already)."""
    install_error_handlers(app)
    app.add_middleware(ShellMiddleware, fastapi_app=app)
    install_metrics(app, service=service)  # outermost: it counts what the shell refuses too
    install_openapi(app)
    install_docs(app)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], response_model=None, responses=error_responses(503))
    async def readyz(request: Request) -> JSONResponse | dict[str, str]:
        """Readiness: the broker and the database are reachable."""
        problems = [reason for check in readiness(app) if (reason := await check()) is not None]
        if problems:
            body = error_body("not_ready", problems, request_id_of(request))
            return JSONResponse(body, status_code=503)
        return {"status": "ready"}


def docs_assets_dir() -> Path:
    """Swagger UI's and ReDoc's files, from the `fastapi-offline` wheel."""
    return Path(str(files("fastapi_offline") / "static"))


def swagger_page(
    openapi_url: str, title: str, oauth2_redirect_url: str | None = None
) -> HTMLResponse:
    """Swagger UI for `openapi_url`, its assets from `DOCS_ASSETS` on the same host."""
    return get_swagger_ui_html(
        openapi_url=openapi_url,
        title=title,
        swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
        oauth2_redirect_url=oauth2_redirect_url,
    )


def install_docs(app: FastAPI) -> None:
    """Serve /docs (Swagger UI) and /redoc from local assets instead of FastAPI's CDN."""
    docs_url, redoc_url, openapi_url = app.docs_url, app.redoc_url, app.openapi_url or ""
    app.router.routes[:] = [
        route
        for route in app.router.routes
        if getattr(route, "path", None) not in {docs_url, redoc_url}
    ]
    app.mount(DOCS_ASSETS, StaticFiles(directory=docs_assets_dir()), name="docs-assets")
    if docs_url:

        @app.get(docs_url, include_in_schema=False)
        async def swagger_ui() -> HTMLResponse:
            return swagger_page(
                openapi_url, f"{app.title} - API docs", app.swagger_ui_oauth2_redirect_url
            )

    if redoc_url:

        @app.get(redoc_url, include_in_schema=False)
        async def redoc() -> HTMLResponse:
            return get_redoc_html(
                openapi_url=openapi_url,
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
                redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png",
                with_google_fonts=False,
            )
