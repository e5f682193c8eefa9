"""Safe YAML loading that keeps the file, line and column of every key and value.

PyYAML's parser (libyaml when available) yields events; an iterative builder turns them into a
:class:`Node` tree without ever constructing Python objects from tags, and without recursion
(libyaml's own composer recurses in C and crashes on very deep nesting). Plain scalars follow
the YAML 1.2 core schema, as editors and check-jsonschema do: ``no``/``on``/``yes`` stay text,
dates stay text. Refused, each with a diagnostic at the offending place: tags other than the
core ones (``!!python/object`` and friends), duplicate keys, merge keys (``<<``; use
``extends``), non-scalar keys, more than one document, files over :data:`MAX_FILE_BYTES`, more
than :data:`MAX_NODES` values after alias expansion or :data:`MAX_ALIASES` alias uses ("billion
laughs"), nesting deeper than :data:`MAX_DEPTH`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from voiceagent.config.diagnostics import Diagnostic, format_path
from voiceagent.config.safe_files import UnsafeFile, read_regular

MAX_FILE_BYTES = 1_000_000
MAX_NODES = 100_000
MAX_ALIASES = 1_000
MAX_DEPTH = 64

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_T = "tag:yaml.org,2002:"


@dataclass
class Node:
    """One YAML value and where it came from.

    ``value`` is ``dict[key, Node]`` for mappings, ``list[Node]`` for sequences, else a
    scalar (str, int, float, bool, None; timestamps stay strings). ``line``/``col`` (1-based)
    locate the value; ``key_line``/``key_col`` locate the key naming it in its parent mapping
    (equal to the value's place for list items and the document root). ``style`` is the YAML
    scalar style (``"|"``, ``">"``, quotes or ``None`` for plain); ``raw`` is the text of a
    plain scalar as written (``+15550100`` for the int 15550100); ``written`` is a string's
    text before ``${VAR}`` substitution (None when nothing was substituted).
    """

    value: Any
    file: str
    line: int
    col: int
    key_line: int = 0
    key_col: int = 0
    style: str | None = None
    tag: str = ""
    raw: str | None = None
    written: str | None = None

    def __post_init__(self) -> None:
        if not self.key_line:
            self.key_line, self.key_col = self.line, self.col

    @property
    def is_map(self) -> bool:
        """Whether this node is a mapping (``value`` is ``dict[key, Node]``)."""
        return isinstance(self.value, dict)

    @property
    def is_seq(self) -> bool:
        """Whether this node is a sequence (``value`` is ``list[Node]``)."""
        return isinstance(self.value, list)

    def get(self, key: Any) -> Node | None:
        """Child node under ``key`` of a mapping (tries ``str``/``int`` forms), else None."""
        if not isinstance(self.value, dict):
            return None
        children: dict[Any, Node] = self.value
        if key in children:
            return children[key]
        if isinstance(key, str) and key.lstrip("-").isdigit() and int(key) in children:
            return children[int(key)]
        if isinstance(key, int) and str(key) in children:
            return children[str(key)]
        return None

    def plain(self) -> Any:
        """The plain Python data (dicts, lists, scalars) of this subtree."""
        if isinstance(self.value, dict):
            return {k: v.plain() for k, v in self.value.items()}
        if isinstance(self.value, list):
            return [v.plain() for v in self.value]
        return self.value


# YAML 1.2 core schema (what editors and check-jsonschema use): only true/false are booleans,
# `no`, `on`, `yes` stay text; `0042` is 42 (not octal); `1:30` is text.
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?[0-9]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_SPECIAL = {
    ".inf": math.inf,
    ".Inf": math.inf,
    ".INF": math.inf,
    "+.inf": math.inf,
    "+.Inf": math.inf,
    "+.INF": math.inf,
    "-.inf": -math.inf,
    "-.Inf": -math.inf,
    "-.INF": -math.inf,
    ".nan": math.nan,
    ".NaN": math.nan,
    ".NAN": math.nan,
}


def plain_scalar(text: str) -> Any:
    """``text`` read as an unquoted YAML 1.2 (core schema) scalar: ``"24000"`` -> 24000,
    ``"true"`` -> True, ``""``/``"null"`` -> None, ``"0x1F"`` -> 31; anything else (dates,
    ``yes``/``no``, phone numbers with spaces) stays text.
    """
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if _INT.fullmatch(text):
        return int(text)
    if text.startswith(("0o", "0x")):
        try:
            return int(text, 8 if text[1] == "o" else 16)
        except ValueError:
            return text
    if _FLOAT.fullmatch(text):
        return float(text)
    return _SPECIAL.get(text, text)


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

    Only a regular file is read (a symlink to ``/dev/zero``, a FIFO or a device is refused
    without reading it), at most :data:`MAX_FILE_BYTES` bytes.

    Raises:
        YamlError: unreadable or non-regular file, YAML syntax error, or a refused construct
            (see module doc).
    """
    try:
        raw = read_regular(path, MAX_FILE_BYTES)
    except UnsafeFile as exc:
        raise _err(display, 1, 1, str(exc)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _err(display, 1, 1, f"file is not UTF-8 text (byte {exc.start})") from None
    return load_text(text, display)


def load_text(text: str, display: str) -> tuple[Node, list[Diagnostic]]:
    """Compose YAML ``text`` safely into a :class:`Node` tree plus non-fatal problems.

    Raises:
        YamlError: syntax errors and exceeded limits (fatal: nothing else can be checked).
    """
    builder = _Builder(display)
    try:
        for event in yaml.parse(text, Loader=_Loader):
            builder.feed(event)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        raise _err(display, line, col, f"YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise _err(display, 1, 1, f"YAML error: {exc}") from None
    if builder.root is None:
        raise _err(display, 1, 1, "file is empty; an agent needs at least name and prompt")
    return builder.root, builder.problems


_ALLOWED_SCALAR_TAGS = {_T + t for t in ("str", "int", "float", "bool", "null")} | {"!"}


class _Frame:
    """A mapping or sequence being built: its node, path, anchor and, for mappings, the key
    waiting for its value.
    """

    __slots__ = ("anchor", "key", "key_mark", "node", "path")

    def __init__(self, node: Node, path: tuple[Any, ...], anchor: str | None) -> None:
        self.node, self.path, self.anchor = node, path, anchor
        self.key: Any = _NO_KEY
        self.key_mark: tuple[int, int] = (0, 0)


_NO_KEY = object()


class _Builder:
    """Builds the :class:`Node` tree from parser events, iteratively (no recursion, so deep
    nesting cannot crash the interpreter), counting nodes and alias expansions.
    """

    def __init__(self, file: str) -> None:
        self.file = file
        self.root: Node | None = None
        self.stack: list[_Frame] = []
        self.anchors: dict[str, Node] = {}
        self.open_anchors: set[str] = set()
        self.nodes = 0
        self.aliases = 0
        self.documents = 0
        self.problems: list[Diagnostic] = []

    # -- helpers ---------------------------------------------------------------------------
    def _count(self, n: int, line: int, col: int) -> None:
        self.nodes += n
        if self.nodes > MAX_NODES:
            raise _err(
                self.file,
                line,
                col,
                f"document is too large (more than {MAX_NODES} values after expanding aliases)",
                self._path(),
            )

    def _path(self) -> tuple[Any, ...]:
        if not self.stack:
            return ()
        top = self.stack[-1]
        if top.node.is_seq:
            return top.path + (len(top.node.value),)
        return top.path + ((str(top.key),) if top.key is not _NO_KEY else ())

    def _problem(self, line: int, col: int, message: str) -> None:
        self.problems.append(_err(self.file, line, col, message, self._path()).diagnostic)

    def _tag_ok(self, tag: str | None, allowed: set[str], line: int, col: int) -> bool:
        if tag is None or tag in allowed:
            return True
        self._problem(line, col, f"YAML tag '{tag.replace(_T, '!!')}' is not allowed; agent files hold plain data only")
        return False

    # -- events ----------------------------------------------------------------------------
    def feed(self, event: yaml.Event) -> None:
        mark = event.start_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        if isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise _err(self.file, line, col, "only one YAML document per agent file (remove the second '---')")
        elif isinstance(event, yaml.ScalarEvent):
            self._scalar(event, line, col)
        elif isinstance(event, yaml.AliasEvent):
            self._alias(event, line, col)
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            self._start(event, line, col)
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            frame = self.stack.pop()
            if frame.anchor:
                self.open_anchors.discard(frame.anchor)
                self.anchors[frame.anchor] = frame.node

    def _scalar(self, event: yaml.ScalarEvent, line: int, col: int) -> None:
        self._count(1, line, col)
        plain, quoted = event.implicit
        style = event.style or None
        if plain and event.tag is None:
            value: Any = plain_scalar(event.value)
        elif quoted or event.tag is None or event.tag in (_T + "str", "!"):
            value = event.value
        elif self._tag_ok(event.tag, _ALLOWED_SCALAR_TAGS, line, col):
            value = plain_scalar(event.value) if event.tag != _T + "str" else event.value
        else:
            value = None
        node = Node(value, self.file, line, col, style=style, tag=event.tag or "", raw=event.value if plain else None)
        if event.anchor:
            self.anchors[event.anchor] = node
        self._attach(node, line, col, key_text=event.value if plain or quoted else None)

    def _alias(self, event: yaml.AliasEvent, line: int, col: int) -> None:
        anchor = event.anchor or ""
        if anchor in self.open_anchors:
            raise _err(self.file, line, col, "recursive YAML alias", self._path())
        target = self.anchors.get(anchor)
        if target is None:
            raise _err(self.file, line, col, f"unknown YAML alias '*{event.anchor}'", self._path())
        self.aliases += 1
        if self.aliases > MAX_ALIASES:
            raise _err(self.file, line, col, f"too many alias expansions (limit {MAX_ALIASES})", self._path())
        self._count(_size(target), line, col)
        copy = _copy(target)
        copy.line, copy.col = line, col
        self._attach(copy, line, col, key_text=None)

    def _start(self, event: yaml.CollectionStartEvent, line: int, col: int) -> None:
        self._count(1, line, col)
        if len(self.stack) >= MAX_DEPTH:
            raise _err(self.file, line, col, f"nesting is too deep (limit {MAX_DEPTH})", self._path())
        is_map = isinstance(event, yaml.MappingStartEvent)
        allowed = {_T + ("map" if is_map else "seq"), "!"}
        ok = self._tag_ok(event.tag, allowed, line, col)
        node = Node({} if is_map else [], self.file, line, col, tag=event.tag or "")
        path = self._path()
        if self.stack and self.stack[-1].node.is_map and self.stack[-1].key is _NO_KEY:
            raise _err(self.file, line, col, "a mapping key must be a plain name, not a list or mapping", path)
        self._attach(node if ok else Node(None, self.file, line, col, tag=event.tag or ""), line, col, key_text=None)
        if event.anchor:
            self.open_anchors.add(event.anchor)
        # A refused collection is still read (to keep the parser in step) but attached nowhere.
        self.stack.append(_Frame(node, path, event.anchor))

    def _attach(self, node: Node, line: int, col: int, key_text: str | None) -> None:
        if not self.stack:
            self.root = node
            return
        top = self.stack[-1]
        if top.node.is_seq:
            top.node.value.append(node)
            return
        if top.key is _NO_KEY:  # this node is a key
            if node.is_map or node.is_seq:
                raise _err(self.file, line, col, "a mapping key must be a plain name, not a list or mapping", top.path)
            key = node.value
            if key_text == "<<" and node.style is None:
                self._problem(line, col, "YAML merge keys (<<) are not supported; use 'extends' for variants")
            if isinstance(key, float) or key is None or isinstance(key, bool):
                key = key_text if key_text is not None else str(key)
            top.key, top.key_mark = key, (line, col)
            return
        key, (kl, kc) = top.key, top.key_mark
        top.key = _NO_KEY
        node.key_line, node.key_col = kl, kc
        if key in top.node.value:
            first = top.node.value[key]
            self.problems.append(
                _err(
                    self.file, kl, kc, f"duplicate key '{key}' (first defined at line {first.key_line})", top.path
                ).diagnostic
            )
            return
        top.node.value[key] = node


def _size(node: Node) -> int:
    if isinstance(node.value, dict):
        return 1 + sum(_size(v) for v in node.value.values())
    if isinstance(node.value, list):
        return 1 + sum(_size(v) for v in node.value)
    return 1


def _copy(node: Node) -> Node:
    """An independent copy (later merging and substitution change nodes in place)."""
    if isinstance(node.value, dict):
        value: Any = {k: _copy(v) for k, v in node.value.items()}
    elif isinstance(node.value, list):
        value = [_copy(v) for v in node.value]
    else:
        value = node.value
    return Node(
        value, node.file, node.line, node.col, node.key_line, node.key_col, node.style, node.tag, node.raw, node.written
    )
