"""`serve`: the live view of a run, on a local web server, read-only, refreshing as the run goes
(`agentic_design.report.live`). `run --serve` starts one beside a search."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.markup import escape

from agentic_design.cli.app import _fail, app, err, out


@app.command()
def serve(
    run_dir: Annotated[Path, typer.Argument(help="a run directory (it may not exist yet)")],
    host: Annotated[
        str,
        typer.Option(
            help="the address to listen on; anything but loopback shows the run to the network"
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="the port (0: any free one)", min=0, max=65535)] = 8765,
    refresh: Annotated[
        float, typer.Option(help="the page refreshes itself every so many seconds", min=1)
    ] = 5.0,
) -> None:
    """Serve a live view of RUN_DIR — state, best so far, budgets, recent designs and failures,
    spend per model, and the full report — refreshing as the run goes. Read-only; Ctrl-C
    stops it."""
    from agentic_design.report.live import LiveServer, is_loopback  # matplotlib: only now

    if run_dir.exists() and not run_dir.is_dir():
        _fail(f"{run_dir} is not a run directory")
    try:
        server = LiveServer(run_dir, host, port, refresh)
    except OSError as exc:  # the port is taken, the address is not this machine's
        _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    if not is_loopback(host):
        err.print(
            f"[bold yellow]warning:[/] listening on {escape(host)}: the run's designs, code and "
            "prompts are visible to anyone who can reach this address",
            highlight=False,
        )
    out.print(
        f"serving {escape(str(run_dir))} at {server.url} (read-only; Ctrl-C stops)",
        highlight=False,
        soft_wrap=True,
    )

    # Ctrl-C (or SIGTERM) is the way to stop a server: no "interrupted", no exit 130. The
    # handler asks the loop to end from a thread of its own rather than raising wherever the
    # main thread happens to be (starting a request's thread, closing the socket).
    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, name="stop", daemon=True).start()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with server:
            server.serve_forever(poll_interval=0.5)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    out.print("stopped")
