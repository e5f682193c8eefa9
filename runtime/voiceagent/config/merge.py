"""``extends``: locale variants and other derived agents (spec section "Locale variants").

Merge rule: mappings merge key by key, recursively; lists and scalars replace; an explicit
``null`` in the child removes the inherited key. The top-level ``tools`` list merges by ``name``:
a child tool whose name is inherited merges into that tool key by key (a Hindi variant sets only
``{name: get_account_info, filler: "..."}``), a new name is appended after the inherited tools,
and ``{name: X, remove: true}`` drops an inherited tool. Chains are allowed; a missing parent, a
parent outside the agent's source tree or a cycle is an error at the child's ``extends`` value
(a cycle at every file on it). Every node keeps the file and line it came from, so later errors
point at the file that contributed the value (the variant's own line for an overridden field).
"""

from __future__ import annotations

import os
from pathlib import Path

from voiceagent.config.diagnostics import Diagnostic
from voiceagent.config.safe_files import inside, source_root
from voiceagent.config.yamlnodes import Node, YamlError, load_nodes

MAX_CHAIN = 16


def merge_nodes(parent: Node, child: Node, problems: list[Diagnostic] | None = None, *, top: bool = True) -> Node:
    """Merge ``child`` over ``parent`` (both mapping nodes) by the rule above.

    Args:
        parent: the inherited agent (or part of it).
        child: the variant's own node.
        problems: receives a diagnostic for each ``remove: true`` that names no inherited tool.
        top: whether these are agent roots (only the root's ``tools`` merges by name).

    Returns:
        A new node (the inputs are not modified) at the child's position.
    """
    if not (parent.is_map and child.is_map):
        return child
    merged: dict[object, Node] = dict(parent.value)
    for key, value in child.value.items():
        if value.value is None and (value.tag == "" or value.tag.endswith(":null")):
            merged.pop(key, None)
        elif top and key == "tools" and key in merged and merged[key].is_seq and value.is_seq:
            merged[key] = _merge_tools(merged[key], value, problems if problems is not None else [])
        elif key in merged and merged[key].is_map and value.is_map:
            merged[key] = merge_nodes(merged[key], value, problems, top=False)
        else:
            merged[key] = value
    return Node(merged, child.file, child.line, child.col, child.key_line, child.key_col, tag=child.tag)


def _tool_name(item: Node) -> str | None:
    name = item.get("name") if item.is_map else None
    return name.value if name is not None and isinstance(name.value, str) else None


def _merge_tools(parent: Node, child: Node, problems: list[Diagnostic]) -> Node:
    """``tools`` by name: override key by key, append new names, ``remove: true`` drops one.

    An item without a usable ``name`` is appended as written, so the schema check reports it
    at its own line.
    """
    tools: list[Node] = list(parent.value)
    index = {name: i for i, item in enumerate(tools) if (name := _tool_name(item)) is not None}
    removed: set[int] = set()
    for item in child.value:
        name = _tool_name(item)
        if name is None:
            tools.append(item)
            continue
        remove = item.get("remove")
        if remove is not None and remove.value is True:
            if name in index and index[name] not in removed:
                removed.add(index[name])
            else:
                problems.append(
                    Diagnostic(
                        item.file,
                        remove.key_line,
                        remove.key_col,
                        "error",
                        f"remove: no inherited tool is named '{name}' (inherited: "
                        f"{', '.join(sorted(index)) or 'none'}); check the name or delete this entry",
                        "tools",
                    )
                )
            continue
        override = item
        if remove is not None:  # `remove: false` keeps the tool; the key itself is not a tool field
            override = Node(
                {k: v for k, v in item.value.items() if k != "remove"},
                item.file,
                item.line,
                item.col,
                item.key_line,
                item.key_col,
                tag=item.tag,
            )
        if name in index and index[name] not in removed:
            tools[index[name]] = merge_nodes(tools[index[name]], override, problems, top=False)
        else:
            index[name] = len(tools)
            tools.append(override)
    kept = [item for i, item in enumerate(tools) if i not in removed]
    return Node(kept, child.file, child.line, child.col, child.key_line, child.key_col, tag=child.tag)


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
                Diagnostic(
                    display, ext.line, ext.col, "error", f"extends cycle: {_names(loop + (loop[0],))}", "extends"
                )
            )
        return None, problems, files, cycle
    node.value.pop("extends")
    return merge_nodes(parent, node, problems), problems, files, ()


def _names(paths: tuple[Path, ...]) -> str:
    return " -> ".join(p.name for p in paths)
