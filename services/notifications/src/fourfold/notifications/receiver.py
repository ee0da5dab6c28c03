"""A local webhook receiver for tests, the benchmark and `make dev`: it answers per path,
keeps what it received and counts each `webhook-id` once, as a partner's receiver should.

Paths: `/ok` (200), `/status/<code>` (that code; `?retry_after=N` adds Retry-After),
`/slow/<ms>` (200 after a pause), `/hold` (waits until `release()`), anything else 200.
Plain asyncio HTTP/1.1 with keep-alive: small, no framework, and it can hold a request
open on purpose.

    python -m fourfold.notifications.receiver --port 18290
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    seen_ids: set[str] = field(default_factory=set)
    held: asyncio.Event = field(default_factory=asyncio.Event)
    holding: asyncio.Event = field(default_factory=asyncio.Event)
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def unique(self, path: str | None = None) -> int:
        """Distinct webhook-ids received (at `path` if given): what a deduping receiver counts."""
        return len(
            {r.headers.get("webhook-id") for r in self.received if path is None or r.path == path}
        )

    def release(self) -> None:
        self.held.set()

    async def start(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def __aenter__(self) -> Receiver:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        self.release()
        await self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *lines = head.decode("latin-1").split("\r\n")
                target = request_line.split(" ")[1]
                headers = {}
                for line in lines:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status, extra = await self._answer(target, headers, body)
                reply = f"HTTP/1.1 {status} X\r\ncontent-length: 2\r\n{extra}\r\nok".encode()
                writer.write(reply)
                await writer.drain()
        except (
            asyncio.IncompleteReadError,
            ConnectionError,
            asyncio.LimitOverrunError,
            IndexError,
        ):
            pass
        finally:
            writer.close()

    async def _answer(self, target: str, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        parts = urlsplit(target)
        path, query = parts.path, parse_qs(parts.query)
        self.received.append(Received(path, headers, body))
        if webhook_id := headers.get("webhook-id"):
            self.seen_ids.add(webhook_id)
        segments = path.strip("/").split("/")
        extra = ""
        if segments[0] == "status" and len(segments) > 1 and segments[1].isdigit():
            if "retry_after" in query:
                extra = f"retry-after: {query['retry_after'][0]}\r\n"
            return int(segments[1]), extra
        if segments[0] == "slow" and len(segments) > 1 and segments[1].isdigit():
            await asyncio.sleep(int(segments[1]) / 1000)
        if segments[0] == "hold":
            self.holding.set()
            await self.held.wait()
        return 200, extra


async def _main(port: int) -> None:
    receiver = await Receiver(port=port).start()
    log.info("webhook receiver listening", extra={"url": receiver.url})
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=18290)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
