"""The server's web pages: the agent list (``GET /``) and the browser call page
(``GET /call/{agent}``), plain HTML with the JavaScript of ``static/`` (no build step, no CDN).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

__all__ = ["STATIC_DIR", "call_page", "index_page"]

STATIC_DIR = Path(__file__).parent / "static"


def index_page(listing: list[dict[str, Any]]) -> str:
    """The agent list: each served agent with a link to its call page; invalid files with their error."""
    rows = []
    for item in listing:
        name = item.get("name")
        file = html.escape(Path(str(item["file"])).name)
        if name:
            link = f'<a href="/call/{html.escape(name)}">{html.escape(name)}</a>'
            note = (
                "" if item["valid"] else ' <span class="bad">(last edit invalid; serving the last good version)</span>'
            )
            rows.append(f"<li>{link} <small>{html.escape(str(item.get('language') or ''))} · {file}</small>{note}</li>")
        else:
            rows.append(
                f'<li><span class="bad">{file}: invalid</span><pre>{html.escape(str(item["error"]))}</pre></li>'
            )
    body = "\n".join(rows) or "<li>No agents.</li>"
    return _PAGE.format(title="voiceagent", body=f"<h1>Agents</h1><ul>{body}</ul>", script="")


def call_page(agent: str, description: str) -> str:
    """The call page of ``agent``: start / hang-up buttons and the live view of the call."""
    config = json.dumps({"agent": agent}).replace("<", "\\u003c")
    body = _CALL_BODY.format(agent=html.escape(agent), description=html.escape(description))
    script = f'<script>window.VOICEAGENT = {config};</script><script src="/static/call.js"></script>'
    return _PAGE.format(title=f"Call {html.escape(agent)}", body=body, script=script)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/static/call.css"></head>
<body>{body}{script}</body></html>
"""

_CALL_BODY = """<header><h1>{agent}</h1><p class="muted">{description}</p></header>
<main>
<section class="controls">
  <button data-action="call" type="button">Call</button>
  <button data-action="hangup" type="button" disabled>Hang up</button>
  <span id="status" class="muted">idle</span>
</section>
<section class="grid">
  <div class="panel"><h2>Transcript</h2><ol id="transcript" aria-live="polite"></ol></div>
  <div class="panel side">
    <h2>Call</h2>
    <dl>
      <dt>State</dt><dd id="state">-</dd>
      <dt>Verification level</dt><dd id="verification">0</dd>
      <dt>Last turn latency</dt><dd id="latency">-</dd>
      <dt>Call id</dt><dd id="callid">-</dd>
    </dl>
    <h2>Turn latency (end of speech to first audio)</h2><ol id="latencies"></ol>
    <h2>Tools</h2><ol id="tools"></ol>
  </div>
</section>
</main>"""
