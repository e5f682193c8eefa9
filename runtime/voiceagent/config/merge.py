"""``extends``: locale variants and other derived agents (spec section "Locale variants").

Merge rule: mappings merge key by key, recursively; lists and scalars replace; an explicit
``null`` in the child removes the inherited key. Chains are allowed; a missing parent, a parent
outside the agent's source tree or a cycle is an error at the child's ``extends`` value. Every node keeps the file and line it came
from, so later errors point at the file that contributed the value.
"""

from __future__ import annotations

import os
from pathlib import Path

from voiceagent.config.diagnostics import Diagnostic
from voiceagent.config.safe_files import inside, source_root
from voiceagent.config.yamlnodes import Node, YamlError, load_nodes

MAX_CHAIN = 16


def merge_nodes(parent: Node, child: Node) -> Node:
    """Merge ``child`` over ``parent`` (both mapping nodes) by the rule above; returns a new
    node, the inputs are not modified. The result keeps the child's position.
    """
    if not (parent.is_map and child.is_map):
        return child
    merged: dict = dict(parent.value)
    for key, value in child.value.items():
        if value.value is None and (value.tag == "" or value.tag.endswith(":null")):
            merged.pop(key, None)
        elif key in merged and merged[key].is_map and value.is_map:
            merged[key] = merge_nodes(merged[key], value)
        else:
            merged[key] = value
    return Node(merged, child.file, child.line, child.col, child.key_line, child.key_col, tag=child.tag)


def resolve_extends(
    path: Path, display: str, _chain: tuple[Path, ...] = (), *, root: Path | None = None
) -> tuple[Node | None, list[Diagnostic], dict[str, Path]]:
    """Load ``path`` and its ``extends`` chain; return (merged root or None, problems, files).

    ``files`` maps the display name of every file read (the agent first, then its parents)
    to its real path, so checks can find each file's folder. ``extends`` is removed from the merged result.
    Parents are named ``display``'s folder joined with the ``extends`` value.

    Only regular files inside ``root`` are read as parents (default: the source tree of
    ``path``, see :func:`voiceagent.config.safe_files.source_root`); a parent outside it is an
    error at the ``extends`` line and is never opened, so none of its values can be quoted. A
    cycle is reported at the ``extends`` line of every file on it that was read, the file
    being validated included.
    """
    node, problems, files, _ = _resolve(path, display, _chain, source_root(path) if root is None else root)
    return node, problems, files


_Result = tuple[Node | None, list[Diagnostic], dict[str, Path], tuple[Path, ...]]


def _resolve(path: Path, display: str, _chain: tuple[Path, ...], root: Path) -> _Result:
    """:func:`resolve_extends`, plus the files of an ``extends`` cycle found below, in chain
    order (empty when there is none).
    """
    try:
        node, problems = load_nodes(path, display)
    except YamlError as exc:
        return None, [exc.diagnostic], {display: path}, ()
    files = {display: path}
    if not node.is_map:
        message = "an agent file must be a mapping of keys (name: ..., prompt: ...)"
        problems.append(Diagnostic(display, node.line, node.col, "error", message, ""))
        return None, problems, files, ()
    ext = node.value.get("extends")
    if ext is None or ext.value is None:
        node.value.pop("extends", None)
        return node, problems, files, ()

    def refuse(message: str, cycle: tuple[Path, ...] = ()) -> _Result:
        assert ext is not None
        problems.append(Diagnostic(display, ext.line, ext.col, "error", message, "extends"))
        return None, problems, files, cycle

    if not isinstance(ext.value, str) or not ext.value.strip():
        return refuse("extends must be a relative file path, e.g. support.yaml")
    parent_path = (path.parent / ext.value).resolve()
    parent_display = os.path.normpath(os.path.join(os.path.dirname(display), ext.value))
    chain = _chain + (path.resolve(),)
    if parent_path in chain:
        loop = chain[chain.index(parent_path) :]
        return refuse(f"extends cycle: {_names(loop + (parent_path,))}", loop)
    if len(chain) >= MAX_CHAIN:
        return refuse(f"extends chain is longer than {MAX_CHAIN} files")
    if not inside(parent_path, root):
        return refuse(
            f"extends: '{ext.value}' is outside the agent's source tree ({root}); a parent must be a file "
            "under the repository root (the nearest folder with .git) or, outside a repository, under "
            "the agent file's folder: copy it there"
        )
    if not parent_path.exists():
        return refuse(f"extends: parent file '{ext.value}' not found (looked for {parent_display})")
    if not parent_path.is_file():
        return refuse(f"extends: '{ext.value}' is not a regular file; a parent must be an agent YAML file")
    parent, parent_problems, parent_files, cycle = _resolve(parent_path, parent_display, chain, root)
    problems.extend(parent_problems)
    files.update(parent_files)
    if parent is None:  # its own errors say why
        if path.resolve() in cycle:  # this file is on the cycle too: say so here, from its own view
            at = cycle.index(path.resolve())
            loop = cycle[at:] + cycle[:at]
            problems.append(
                Diagnostic(display, ext.line, ext.col, "error", f"extends cycle: {_names(loop + (loop[0],))}", "extends")
            )
        return None, problems, files, cycle
    node.value.pop("extends")
    return merge_nodes(parent, node), problems, files, ()


def _names(paths: tuple[Path, ...]) -> str:
    return " -> ".join(p.name for p in paths)
