"""The one resolver of ``python: module:function`` tools, for ``validate`` and for ``run``.

Both answer the same question the same way — where does ``module`` come from, seen from the
agent file's folder (``base_dir``)? :func:`locate`:

- **local**: the first part of ``module`` is ``base_dir/<name>.py`` or a folder
  ``base_dir/<name>/``; ``tools.acme`` is then ``base_dir/tools/acme.py`` (or
  ``base_dir/tools/acme/__init__.py``);
- **stdlib**: a standard-library module (``os``, ``subprocess``...);
- **installed**: found on the Python path (an installed package);
- **missing**: none of these.

``validate`` never imports or executes agent code: :func:`check_tool` reads the local module's
source (a regular file inside the agent's source tree, see :mod:`voiceagent.config.safe_files`),
parses it with :mod:`ast`, finds the function defined at module level (``def`` or
``async def``, also inside module-level ``if``/``try`` blocks) and builds its signature from
the syntax. A target in the standard library or an installed module is a warning: it is not
the agent's own code, so it cannot be checked, and functions such as ``os:system`` do far more
than a tool should.

The parts live in :mod:`voiceagent.config.pytools_locate` (where a module comes from) and
:mod:`voiceagent.config.pytools_import` (the import for ``run``); import them from here.

``run`` imports the module with :func:`import_tool_module`: a local module under a private
package name (``_voiceagent_tools_<hash>.<module>``) so two agents with a ``tools/acme.py``
each do not clash; the folder is on ``sys.path`` only while the module executes (so sibling
absolute imports work), and only modules loaded *from that folder's own top-level names*
are forgotten afterwards. Standard-library and third-party modules a tool imports stay
imported exactly once (removing them made a second ``asyncio`` whose exceptions differ from the
running loop's).

Tool functions are called with the arguments as keyword arguments; they may also take the call
context as a ``ctx`` (or ``context``) parameter, or ``**kwargs`` (it is then passed as ``ctx``):
:func:`context_param`.
"""

from __future__ import annotations

import ast
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

from voiceagent.config.diagnostics import Severity
from voiceagent.config.pytools_import import import_tool_module, load_function, private_package, runtime_signature
from voiceagent.config.pytools_locate import Located, clear_locate_cache, inside_cached, locate
from voiceagent.config.safe_files import UnsafeFile, read_regular

__all__ = [
    "CONTEXT_PARAMS",
    "Located",
    "Resolved",
    "check_tool",
    "clear_cache",
    "context_param",
    "import_isolated",
    "import_tool_module",
    "load_function",
    "locate",
    "private_package",
    "resolve",
    "runtime_signature",
    "signature_problems",
]

CONTEXT_PARAMS = ("ctx", "context")
MAX_SOURCE_BYTES = 1_000_000
"""Largest tool module ``validate`` reads, in bytes (larger ones get a warning, unchecked)."""
MAX_PARSE_BYTES = 200_000
"""Modules up to this size are parsed whole; in larger ones only the function's own top-level
``def`` (at column 0) is found and parsed, so a huge module costs no more than a small one."""
MAX_REEXPORT_HOPS = 4
"""``from .impl import run`` is followed this many modules deep."""


@dataclass(frozen=True)
class Resolved:
    """Outcome of checking one ``module:function`` statically.

    ``signature``: the function's parameters as written (defaults are placeholders); ``error``:
    the tool cannot work (missing file/function, syntax error); ``warning``: it may work but
    cannot be checked or points outside the agent's code.
    """

    signature: inspect.Signature | None = None
    error: str | None = None
    warning: str | None = None


class _Default:
    def __repr__(self) -> str:
        return "<default>"


_HAS_DEFAULT = _Default()

_CACHE: dict[tuple[str, str, str], Resolved] = {}


def clear_cache() -> None:
    """Forget checked tools (call before a new batch, so edited tool files are re-read)."""
    _CACHE.clear()
    _INDEX.clear()
    clear_locate_cache()


def _signature(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> inspect.Signature:
    a = fn.args
    P = inspect.Parameter
    params: list[inspect.Parameter] = []
    positional = [(arg, P.POSITIONAL_ONLY) for arg in a.posonlyargs] + [
        (arg, P.POSITIONAL_OR_KEYWORD) for arg in a.args
    ]
    first_default = len(positional) - len(a.defaults)
    for i, (arg, kind) in enumerate(positional):
        params.append(P(arg.arg, kind, default=_HAS_DEFAULT if i >= first_default else P.empty))
    if a.vararg is not None:
        params.append(P(a.vararg.arg, P.VAR_POSITIONAL))
    for arg, default in zip(a.kwonlyargs, a.kw_defaults, strict=True):
        params.append(P(arg.arg, P.KEYWORD_ONLY, default=P.empty if default is None else _HAS_DEFAULT))
    if a.kwarg is not None:
        params.append(P(a.kwarg.arg, P.VAR_KEYWORD))
    return inspect.Signature(params)


def _module_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements of the module, including those inside module-level if/try/with blocks."""
    out: list[ast.stmt] = []
    todo = list(reversed(body))
    while todo:
        stmt = todo.pop()
        out.append(stmt)
        nested: list[ast.stmt] = []
        if isinstance(stmt, ast.If):
            nested = stmt.body + stmt.orelse
        elif isinstance(stmt, ast.Try | ast.TryStar):
            nested = stmt.body + [s for h in stmt.handlers for s in h.body] + stmt.orelse + stmt.finalbody
        elif isinstance(stmt, ast.With | ast.AsyncWith):
            nested = stmt.body
        todo.extend(reversed(nested))
    return out


def _shown(file: Path, base_dir: Path) -> str:
    """``file`` relative to the agent's folder when it is inside it, else as is."""
    try:
        return str(file.relative_to(base_dir))
    except ValueError:
        return str(file)


def _read(file: Path, label: str) -> bytes | Resolved:
    try:
        return read_regular(file, MAX_SOURCE_BYTES)
    except UnsafeFile as exc:
        if "too large" in str(exc):
            return Resolved(warning=f"{label}: {exc}; its functions are not checked")
        return Resolved(error=f"{label}: {exc}")


def _parse(source: bytes | str, file: Path, label: str, first_line: int = 1) -> ast.Module | Resolved:
    try:
        return ast.parse(source, filename=str(file))
    except SyntaxError as exc:
        return Resolved(error=f"{label} line {(exc.lineno or 1) + first_line - 1}: Python syntax error: {exc.msg}")
    except (RecursionError, MemoryError):
        return Resolved(error=f"{label}: the Python code is nested too deeply to read")
    except ValueError as exc:  # e.g. null bytes
        return Resolved(error=f"{label}: not Python source: {exc}")


@dataclass
class _Index:
    """What a module binds at module level: ``bindings`` (name -> the last statement binding
    it) and ``functions`` (names defined with def), or, for a module over
    :data:`MAX_PARSE_BYTES`, ``text`` and ``def_starts`` (name -> offset of its last top-level
    ``def`` at column 0).
    """

    bindings: dict[str, ast.stmt]
    functions: list[str]
    text: str = ""
    public: list[str] | None = None
    def_starts: dict[str, int] | None = None


_INDEX: dict[Path, _Index | Resolved] = {}
_TOP_DEF = re.compile(r"^(?:async[ \t]+)?def[ \t]+(\w+)", re.MULTILINE)
_TOP_LINE = re.compile(r"^[^\s#]", re.MULTILINE)


def _index(file: Path, label: str) -> _Index | Resolved:
    """The module-level bindings of ``file`` (read and parsed once until :func:`clear_cache`)."""
    hit = _INDEX.get(file)
    if hit is not None:
        return hit
    source = _read(file, label)
    result: _Index | Resolved
    if isinstance(source, Resolved):
        result = source
    elif len(source) > MAX_PARSE_BYTES:
        text = source.decode("utf-8", "replace")
        starts = {m.group(1): m.start() for m in _TOP_DEF.finditer(text)}
        result = _Index({}, list(starts), text=text, def_starts=starts)
    else:
        tree = _parse(source, file, label)
        if isinstance(tree, Resolved):
            result = tree
        else:
            bindings: dict[str, ast.stmt] = {}
            functions: list[str] = []
            for stmt in _module_level(tree.body):
                for name in _bound_names(stmt):
                    bindings[name] = stmt  # the last binding wins, as at run time
                if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                    functions.append(stmt.name)
            result = _Index(bindings, functions)
    _INDEX[file] = result
    return result


def _bound_names(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [stmt.name]
    if isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        return [t.id for t in targets if isinstance(t, ast.Name)]
    if isinstance(stmt, ast.ImportFrom):
        return [alias.asname or alias.name for alias in stmt.names]
    if isinstance(stmt, ast.Import):
        return [alias.asname or alias.name.split(".")[0] for alias in stmt.names]
    return []


def _large_module_function(index: _Index, func: str, file: Path, label: str) -> Resolved:
    """In a module over :data:`MAX_PARSE_BYTES`: the last top-level ``def func`` (column 0),
    parsed alone up to the next top-level line.
    """
    assert index.def_starts is not None
    start = index.def_starts.get(func)
    if start is None:
        return Resolved(
            warning=f"{label} is large ({len(index.text)} characters): no top-level 'def {func}' found in it, "
            "so the tool is not checked further"
        )
    end = _TOP_LINE.search(index.text, start + 1)
    chunk = index.text[start : end.start() if end else len(index.text)]
    tree = _parse(chunk, file, label, index.text.count("\n", 0, start) + 1)
    if isinstance(tree, Resolved):
        return tree
    fn = tree.body[0] if tree.body else None
    if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
        return Resolved(warning=f"{label}: 'def {func}' could not be read; not checked")
    return Resolved(signature=_signature(fn))


def _find(located: Located, func: str, base_dir: Path, root: Path | None, hops: int) -> Resolved:
    module = located.module
    file = located.file
    if file is None:
        return Resolved(error=f"module '{module}' is a folder without __init__.py, not a module with functions")
    label = f"{module} ({_shown(file, base_dir)})"
    if root is not None and not inside_cached(file, root):
        return Resolved(error=f"module '{module}' resolves to {file.resolve()}, outside the agent's source tree {root}")
    index = _index(file, label)
    if isinstance(index, Resolved):
        return index
    if index.def_starts is not None:
        return _large_module_function(index, func, file, label)
    stmt = index.bindings.get(func)
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
        return Resolved(signature=_signature(stmt))
    if isinstance(stmt, ast.ClassDef):
        return Resolved(warning=f"'{module}:{func}' is a class, not a function; its parameters are not checked")
    if isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
        return Resolved(
            warning=f"'{func}' in {module} is assigned (not defined with def); its parameters are not checked"
        )
    if isinstance(stmt, ast.ImportFrom):
        alias = next(a for a in stmt.names if (a.asname or a.name) == func)
        return _follow_import(stmt, alias.name, located, base_dir, root, hops)
    if isinstance(stmt, ast.Import):
        return Resolved(error=f"'{func}' in {module} is an imported module, not a function")
    from voiceagent.config.pydantic_errors import did_you_mean

    if index.public is None:
        index.public = [n for n in index.functions if not n.startswith("_")]
    hint = did_you_mean(func, index.public) or f"; define it there (def {func}(...):) or correct the name"
    return Resolved(error=f"module '{module}' has no function '{func}'{hint}")


def _follow_import(
    stmt: ast.ImportFrom, name: str, located: Located, base_dir: Path, root: Path | None, hops: int
) -> Resolved:
    source = stmt.module or ""
    if stmt.level:  # relative: from the importing module's package
        assert located.file is not None
        package = located.module.split(".")
        if located.file.name != "__init__.py":
            package = package[:-1]
        package = package[: len(package) - (stmt.level - 1)] if stmt.level > 1 else package
        source = ".".join([*package, source] if source else package)
    target = locate(source, base_dir) if source else Located("missing", source)
    if target.kind != "local" or hops >= MAX_REEXPORT_HOPS:
        return Resolved(
            warning=f"'{name}' is imported into {located.module} from '{source or '.'}', "
            "which is not a module of the agent's folder; its parameters are not checked"
        )
    return _find(target, name, base_dir, root, hops + 1)


def check_tool(spec: str, base_dir: Path, *, root: Path | None = None) -> Resolved:
    """Check ``"module:function"`` statically, seen from ``base_dir`` (the agent file's folder).

    Never imports or executes anything of the agent. Cached per (spec, folder) until
    :func:`clear_cache`.

    Args:
        spec: the ``python:`` value, e.g. ``tools.acme:get_account``.
        base_dir: the agent file's folder (where ``run`` looks first).
        root: the agent's source tree; a local module resolving outside it (through a symlink)
            is an error, and is not read.

    Returns:
        :class:`Resolved`: the function's signature, or an error, or a warning.
    """
    key = (spec, str(base_dir), str(root))
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    module, _, func = spec.partition(":")
    if not all(part.isidentifier() for part in module.split(".")) or not func.isidentifier():
        result = Resolved(error=f"'{spec}' is not module:function (dotted Python names, e.g. tools.acme:get_info)")
        _CACHE[key] = result
        return result
    located = locate(module, base_dir)
    if located.kind == "stdlib":
        result = Resolved(
            warning=f"'{spec}' points into the Python standard library, not at a tool module of the agent; "
            "the LLM could then call it with any arguments it chooses (os:system runs shell commands). "
            "Write a small function in the agent's tools/ folder that does only what the tool should"
        )
    elif located.kind == "installed":
        result = Resolved(
            warning=f"'{spec}' points into the installed package '{module.split('.')[0]}', not at a tool "
            "module in the agent's folder, so validate cannot check it; a small function in the agent's "
            "tools/ folder that calls the package is checked and documents what the LLM may do"
        )
    elif located.kind == "missing":
        result = Resolved(
            error=f"module '{module}' not found (looked for {located.looked_for}); create it, or fix the "
            "module path (modules are found relative to the agent file's folder)"
        )
    else:
        result = _find(located, func, Path(base_dir), root, 0)
    _CACHE[key] = result
    return result


resolve = check_tool
"""Old name of :func:`check_tool`."""


def signature_problems(sig: inspect.Signature, declared: list[str], required: list[str]) -> list[tuple[Severity, str]]:
    """(severity, message) problems of calling ``sig`` with the declared keyword arguments.

    Errors: a declared parameter the function cannot take; a function parameter without a
    default that the tool does not declare. Warning: an optional tool parameter (not in
    ``required``) whose function parameter has no default.
    """
    params = sig.parameters
    var_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
    accepted = {n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    out: list[tuple[Severity, str]] = []
    for name in declared:
        if name not in accepted and not var_kw:
            out.append(("error", f"the function does not accept parameter '{name}' declared by the tool"))
        elif name in params and name not in required and params[name].default is inspect.Parameter.empty:
            out.append(("warning", f"parameter '{name}' is optional for the tool but has no default in the function"))
    for name, p in params.items():
        if name in declared or name in CONTEXT_PARAMS or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        if p.default is inspect.Parameter.empty:
            out.append(("error", f"the function requires parameter '{name}' that the tool does not declare"))
    return out


def context_param(sig: inspect.Signature | None) -> str | None:
    """The keyword the call context is passed as: ``ctx``, else ``context``, ``ctx`` for
    ``**kwargs``; None when the function takes none (or has no signature).
    """
    if sig is None:
        return None
    params = sig.parameters
    for name in CONTEXT_PARAMS:
        p = params.get(name)
        if p is not None and p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            return name
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return "ctx"
    return None


import_isolated = import_tool_module
"""Old name of :func:`import_tool_module` (which no longer removes anything but the agent's own
modules from ``sys.modules``)."""
