"""``voiceagent test``: run conversation tests (``*.test.yaml``) against the agents they name.

Heavy imports happen inside the command, so ``voiceagent --help`` stays fast.
"""

from __future__ import annotations

import sys

import click

from voiceagent.cli import main


@main.command("test")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: FILE::NAME PASSED|FAILED|SKIPPED lines and a summary; json: one document with every turn.",
)
@click.option("--junit-xml", "junit", type=click.Path(dir_okay=False), help="Also write JUnit XML (for CI) here.")
@click.option("-k", "keyword", metavar="SUBSTRING", help="Only scenarios whose FILE::NAME contains SUBSTRING.")
@click.option(
    "--llm",
    type=click.Choice(["agent", "scripted"]),
    help="agent: the agent's own LLM; scripted: each turn's llm rounds (default: as each file says).",
)
@click.option("--judge-llm", metavar="URL", help="OpenAI-compatible endpoint that judges `judge:` criteria.")
@click.option("--judge-model", metavar="NAME", help="The judge's model (default gpt-4o-mini).")
@click.option(
    "--caller-voice",
    metavar="VOICE",
    help="Speak every `user:` turn in this voice through the agent's STT: piper, espeak-ng[:VOICE] or flite[:VOICE].",
)
def test_command(
    paths: tuple[str, ...],
    fmt: str,
    junit: str | None,
    keyword: str | None,
    llm: str | None,
    judge_llm: str | None,
    judge_model: str | None,
    caller_voice: str | None,
) -> None:
    """Run conversation tests: PATH is a test file or a folder of *.test.yaml (default agents/tests/).

    Each scenario is a real call. Exit status: 0 nothing failed, 1 a scenario failed, 2 usage
    error or an invalid test file (FILE:LINE:COL: error: ...).
    """
    import asyncio

    from voiceagent.convtest.suite import run_tests

    def err(line: str) -> None:
        click.echo(line, err=True)

    run = asyncio.run(
        run_tests(
            list(paths) or None,
            fmt=fmt,
            junit=junit,
            keyword=keyword,
            llm=llm,  # type: ignore[arg-type]
            judge_llm=judge_llm,
            judge_model=judge_model,
            caller_voice=caller_voice,
            out=click.echo,
            err=err,
        )
    )
    sys.exit(run.code)
