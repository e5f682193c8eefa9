"""Authoring commands: ``validate``, ``schema``, ``show`` (spec: "CLI (normative)").

Imports of the config package happen inside the commands, so ``voiceagent --help`` and the
other commands stay fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from voiceagent.cli import main

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def _expand(paths: tuple[str, ...]) -> list[str]:
    """Files as given; a folder stands for the ``*.yaml`` / ``*.yml`` files directly in it."""
    out: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = sorted(str(f) for f in path.iterdir() if f.suffix in (".yaml", ".yml") and f.is_file())
            if not found:
                raise click.UsageError(f"no .yaml files in folder '{p}'")
            out.extend(found)
        else:
            out.append(p)
    return out


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, readable=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: FILE:LINE:COL: error: MESSAGE lines; json: a list of {file, line, column, severity, message, path}.",
)
@click.option(
    "--no-import",
    is_flag=True,
    help="Skip the python tool check. (validate never imports or runs tool modules either way: they are "
    "read and parsed.)",
)
def validate(files: tuple[str, ...], fmt: str, no_import: bool) -> None:
    """Check agent FILE(s): YAML, schema, references, templates and tools.

    Every problem of every file is printed at once. Exit status: 0 all valid (warnings
    allowed), 1 some file is invalid, 2 usage error (e.g. a file that does not exist).
    """
    from voiceagent.config.diagnostics import has_errors
    from voiceagent.config.validate import validate_paths

    diags = validate_paths(_expand(files), check_tools=not no_import)
    if fmt == "json":
        click.echo(json.dumps([d.to_dict() for d in diags], indent=2, ensure_ascii=False))
    else:
        for d in diags:
            click.echo(d.format())
        if diags:
            errors = sum(d.severity == "error" for d in diags)
            click.echo(f"{errors} error(s), {len(diags) - errors} warning(s)", err=True)
    sys.exit(EXIT_INVALID if has_errors(diags) else EXIT_OK)


@main.command()
def schema() -> None:
    """Print the JSON Schema (Draft 2020-12) of agent files.

    Editors use it through `# yaml-language-server: $schema=../schemas/agent.schema.json`.
    """
    from voiceagent.config.schema import schema_text

    click.echo(schema_text(), nl=False)


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of YAML.")
def show(file: str, as_json: bool) -> None:
    """Print the fully resolved agent FILE: variants merged, defaults filled in, secrets
    masked; ${VAR} references are shown as written, never their values.
    """
    from voiceagent.config.diagnostics import has_errors
    from voiceagent.config.load import check_file
    from voiceagent.config.secrets import mask_value

    agent, _, diags = check_file(file, check_tools=False)
    if agent is None or has_errors(diags):
        for d in diags:
            click.echo(d.format(), err=True)
        sys.exit(EXIT_INVALID)
    data = mask_value(agent.model_dump(mode="json", by_alias=True, exclude={"extends"}))
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        click.echo(_yaml_dump(data), nl=False)


def _yaml_dump(data: object) -> str:
    """YAML for people: key order kept, multi-line strings as ``|`` blocks."""
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, _str)
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
