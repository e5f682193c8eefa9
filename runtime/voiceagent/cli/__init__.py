"""The ``voiceagent`` command line: ``validate``, ``schema``, ``show`` (authoring), ``run``, ``test`` and ``serve``."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="voiceagent-runtime")
def main() -> None:
    """Declarative voice agents: validate, inspect and run YAML agent files."""


# Sub-command modules register themselves on ``main``.
from voiceagent.cli import authoring, convtest, run, serve  # noqa: E402,F401
