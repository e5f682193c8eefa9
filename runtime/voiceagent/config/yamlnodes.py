"""Safe YAML loading that keeps the file, line and column of every key and value.

PyYAML's composer (libyaml when available) gives a node graph with marks; this module turns it
into a :class:`Node` tree without ever constructing Python objects from tags. Refused, each with
a diagnostic at the offending place: tags other than the YAML core ones (``!!python/object`` and
friends), duplicate keys, merge keys (``<<``; use ``extends``), non-scalar keys, files over
:data:`MAX_FILE_BYTES`, more than :data:`MAX_NODES` nodes after alias expansion or
:data:`MAX_ALIASES` alias uses ("billion laughs"), nesting deeper than :data:`MAX_DEPTH`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from voiceagent.config.diagnostics import Diagnostic, format_path

MAX_FILE_BYTES = 1_000_000
MAX_NODES = 100_000
MAX_ALIASES = 1_000
MAX_DEPTH = 64

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_T = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_T + t for t in ("str", "int", "float", "bool", "null", "timestamp", "binary")}
_CONSTRUCT = yaml.constructor.SafeConstructor()
_CONSTRUCTORS = {
    _T + "int": _CONSTRUCT.construct_yaml_int,
    _T + "float": _CONSTRUCT.construct_yaml_float,
    _T + "bool": _CONSTRUCT.construct_yaml_bool,
    _T + "null": _CONSTRUCT.construct_yaml_null,
}


@dataclass
class Node:
    """One YAML value and where it came from.

    ``value`` is ``dict[key, Node]`` for mappings, ``list[Node]`` for sequences, else a
    scalar (str, int, float, bool, None; timestamps stay strings). ``line``/``col`` (1-based)
    locate the value; ``key_line``/``key_col`` locate the key naming it in its parent mapping
    (equal to the value's place for list items and the document root). ``style`` is the YAML
    scalar style (``"|"``, ``">"``, quotes or ``None``).
    """

    value: Any
    file: str
    line: int
    col: int
    key_line: int = 0
    key_col: int = 0
    style: str | None = None
    tag: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.key_line:
            self.key_line, self.key_col = self.line, self.col

    @property
    def is_map(self) -> bool:
        return isinstance(self.value, dict)

    @property
    def is_seq(self) -> bool:
        return isinstance(self.value, list)

    def get(self, key: Any) -> "Node | None":
        """Child node under ``key`` of a mapping (tries ``str``/``int`` forms), else None."""
        if not isinstance(self.value, dict):
            return None
        if key in self.value:
            return self.value[key]
        if isinstance(key, str) and key.lstrip("-").isdigit() and int(key) in self.value:
            return self.value[int(key)]
        if isinstance(key, int) and str(key) in self.value:
            return self.value[str(key)]
        return None

    def plain(self) -> Any:
        """The plain Python data (dicts, lists, scalars) of this subtree."""
        if isinstance(self.value, dict):
            return {k: v.plain() for k, v in self.value.items()}
        if isinstance(self.value, list):
            return [v.plain() for v in self.value]
        return self.value


_RESOLVER = yaml.resolver.Resolver()


def plain_scalar(text: str) -> Any:
    """``text`` read as an unquoted YAML scalar: ``"24000"`` -> 24000, ``"true"`` -> True,
    ``""``/``"null"`` -> None, anything else (dates included) stays text."""
    tag = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))
    if tag in _CONSTRUCTORS:
        return _CONSTRUCTORS[tag](yaml.ScalarNode(tag, text))
    return text


class YamlError(Exception):
    """The file cannot be read as a safe YAML document; ``diagnostic`` says where and why."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.format())
        self.diagnostic = diagnostic


def _err(file: str, line: int, col: int, message: str, path: tuple[Any, ...] | str = "") -> YamlError:
    where = path if isinstance(path, str) else format_path(path)
    return YamlError(Diagnostic(file, line, col, "error", message, where))


def load_nodes(path: Path, display: str) -> tuple[Node, list[Diagnostic]]:
    """Read ``path``; return its root :class:`Node` (positions labelled ``display``) and the
    non-fatal problems found (duplicate keys, refused tags: the value is dropped).

    Raises:
        YamlError: unreadable file, YAML syntax error, or a refused construct (see module doc).
    """
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _err(display, 1, 1, f"file is too large ({size} bytes; the limit is {MAX_FILE_BYTES})")
        raw = path.read_bytes()
    except OSError as exc:
        raise _err(display, 1, 1, f"cannot read file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _err(display, 1, 1, f"file is not UTF-8 text (byte {exc.start})") from None
    return load_text(text, display)


def load_text(text: str, display: str) -> tuple[Node, list[Diagnostic]]:
    """Compose YAML ``text`` safely into a :class:`Node` tree plus non-fatal problems.

    Raises:
        YamlError: syntax errors and exceeded limits (fatal: nothing else can be checked).
    """
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        raise _err(display, line, col, f"YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise _err(display, 1, 1, f"YAML error: {exc}") from None
    except RecursionError:
        raise _err(display, 1, 1, f"YAML nesting is too deep (limit {MAX_DEPTH})") from None
    finally:
        loader.dispose()
    if root is None:
        raise _err(display, 1, 1, "file is empty; an agent needs at least name and prompt")
    conv = _Converter(display)
    node = conv.convert(root, (), 0)
    return node, conv.problems


class _Converter:
    def __init__(self, file: str) -> None:
        self.file = file
        self.nodes = 0
        self.aliases = 0
        self.seen: set[int] = set()
        self.stack: set[int] = set()
        self.problems: list[Diagnostic] = []

    def convert(self, node: yaml.Node, path: tuple[Any, ...], depth: int) -> Node:
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        where = path
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _err(self.file, line, col, f"document is too large (more than {MAX_NODES} values after expanding aliases)", where)
        if depth > MAX_DEPTH:
            raise _err(self.file, line, col, f"nesting is too deep (limit {MAX_DEPTH})", where)
        if id(node) in self.stack:
            raise _err(self.file, line, col, "recursive YAML alias", where)
        if id(node) in self.seen and not isinstance(node, yaml.ScalarNode):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise _err(self.file, line, col, f"too many alias expansions (limit {MAX_ALIASES})", where)
        self.seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            return Node(self._scalar(node, where), self.file, line, col, style=node.style or None, tag=node.tag)
        self.stack.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                if not self._check_tag(node, _T + "seq", where):
                    return Node(None, self.file, line, col, tag=node.tag)
                items = [self.convert(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
                return Node(items, self.file, line, col, tag=node.tag)
            if not self._check_tag(node, _T + "map", where):
                return Node(None, self.file, line, col, tag=node.tag)
            return Node(self._mapping(node, path, depth), self.file, line, col, tag=node.tag)
        finally:
            self.stack.discard(id(node))

    def _check_tag(self, node: yaml.Node, allowed: str, where: tuple[Any, ...]) -> bool:
        if node.tag != allowed:
            m = node.start_mark
            msg = f"YAML tag '{node.tag.replace(_T, '!!')}' is not allowed; agent files hold plain data only"
            self.problems.append(_err(self.file, m.line + 1, m.column + 1, msg, where).diagnostic)
            return False
        return True

    def _scalar(self, node: yaml.ScalarNode, where: tuple[Any, ...]) -> Any:
        tag = node.tag
        if tag not in _SCALAR_TAGS:
            if tag == _T + "merge":
                return "<<"
            if not self._check_tag(node, _T + "str", where):
                return None
        if tag in (_T + "str", _T + "timestamp", _T + "binary"):
            return str(node.value)
        try:
            value = _CONSTRUCTORS[tag](node)
        except yaml.YAMLError as exc:
            m = node.start_mark
            raise _err(self.file, m.line + 1, m.column + 1, f"invalid value: {exc}", where) from None
        if isinstance(value, (datetime.date, bytes)):  # pragma: no cover - excluded above
            return str(node.value)
        return value

    def _mapping(self, node: yaml.MappingNode, path: tuple[Any, ...], depth: int) -> dict[Any, Node]:
        out: dict[Any, Node] = {}
        where = path
        for key_node, value_node in node.value:
            kl, kc = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise _err(self.file, kl, kc, "a mapping key must be a plain name, not a list or mapping", where)
            if key_node.tag == _T + "merge":
                raise _err(self.file, kl, kc, "YAML merge keys (<<) are not supported; use 'extends' for variants", where)
            key = self._scalar(key_node, where)
            if isinstance(key, float) or key is None or isinstance(key, bool):
                key = str(key_node.value)
            if key in out:
                first = out[key]
                self.problems.append(_err(self.file, kl, kc, f"duplicate key '{key}' (first defined at line {first.key_line})", where).diagnostic)
                continue
            child = self.convert(value_node, path + (str(key),), depth + 1)
            child.key_line, child.key_col = kl, kc
            out[key] = child
        return out
