"""``voiceagent serve``: answer phone (Twilio, Exotel) and browser calls for every agent of a folder.

Command and flags: docs/serve.md (normative). Invalid agent files are reported like ``validate``
does and skipped; the server starts anyway.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
from pathlib import Path

import click

from voiceagent.cli import main


def _say(line: str) -> None:
    click.echo(line, err=True)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0: every interface)."
)
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port (0: any free one)."
)
@click.option(
    "--public-url",
    default=None,
    help="Externally reachable base such as https://x.example (builds the wss:// URL given to Twilio); "
    "default: from the request's Host and X-Forwarded-Proto headers.",
)
@click.option(
    "--max-calls",
    default=None,
    type=click.IntRange(1),
    help="Concurrent calls accepted; beyond it calls are refused at once.",
)
@click.option(
    "--events-dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Write each call's event log to DIR/<agent>/<call-id>.jsonl.",
)
@click.option("--no-reload", is_flag=True, help="Do not watch agent files for changes.")
@click.option(
    "--drain-timeout",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds running calls get to finish on SIGTERM/SIGINT.",
)
@click.option(
    "--auth-token",
    default=None,
    envvar="VOICEAGENT_AUTH_TOKEN",
    help="Required by /ws and the call page (?token=...) when set [env VOICEAGENT_AUTH_TOKEN].",
)
def serve(
    paths: tuple[str, ...],
    host: str,
    port: int,
    public_url: str | None,
    max_calls: int | None,
    events_dir: str | None,
    no_reload: bool,
    drain_timeout: float,
    auth_token: str | None,
) -> None:
    """Serve every agent of PATH... (files or folders; default agents/) under its name.

    Routes: /healthz, /metrics, /agents, / (agent list), /call/NAME (browser call page),
    /ws/NAME, POST /twilio/NAME (voice webhook), /twilio/NAME/stream, /exotel/NAME.
    """
    from voiceagent.serve.calls import CallRegistry
    from voiceagent.serve.catalogue import Catalogue
    from voiceagent.serve.metrics import ServeMetrics
    from voiceagent.serve.runner import ServeContext
    from voiceagent.serve.server import serve_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("watchfiles", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if public_url is not None and not public_url.startswith(("https://", "http://")):
        raise click.BadParameter(
            f"'{public_url}' is not an http(s) URL (e.g. https://x.example)", param_hint="--public-url"
        )
    if not paths:
        if not Path("agents").is_dir():
            raise click.UsageError("no PATH given and no agents/ folder here: name agent files or folders")
        paths = ("agents",)
    env = dict(os.environ)
    catalogue = Catalogue(paths, env)
    catalogue.load_all()
    for item in catalogue.listing():
        if item["error"]:
            _say(item["error"])
    if not catalogue.names():
        _say("warning: no valid agent to serve yet (fix the files above; they are reloaded when saved)")
    ctx = ServeContext(
        catalogue=catalogue,
        registry=CallRegistry(max_calls),
        metrics=ServeMetrics(),
        env=env,
        events_dir=Path(events_dir) if events_dir else None,
        public_url=public_url,
        auth_token=auth_token or None,
    )

    # As `voiceagent run` does: the start-up objects (agents, compiled prompts, imported modules)
    # leave the collector's generations, so full GC passes stop stalling every call at once
    # (docs/performance.md, Profile §2).
    gc.collect()
    gc.freeze()

    def announce(url: str) -> None:
        names = ", ".join(catalogue.names()) or "none"
        _say(f"voiceagent serve: listening on {url} (agents: {names})")

    code = asyncio.run(
        serve_forever(ctx, host=host, port=port, drain_timeout=drain_timeout, reload=not no_reload, announce=announce)
    )
    sys.exit(code)
