"""A small schema language checked against YAML *nodes*, so every error can name file:line.

`yaml.safe_load` loses positions; `yaml.compose` keeps a mark on every node. Each schema
class validates a node and returns the plain Python value, or raises MatrixError with the
file, the line and the path of the offending value.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml


class MatrixError(Exception):
    """A malformed or inconsistent matrix file; str() is one line: 'file:line: what is wrong'."""


def where(path: Path | str, node: yaml.Node | None) -> str:
    line = f":{node.start_mark.line + 1}" if node is not None else ""
    return f"{path}{line}"


def fail(path: Path | str, node: yaml.Node | None, keypath: str, msg: str) -> MatrixError:
    at = f"{keypath}: " if keypath else ""
    return MatrixError(f"{where(path, node)}: {at}{msg}")


def compose(path: Path) -> yaml.Node:
    """Parse a file into a node tree; YAML syntax errors become one-line MatrixErrors."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise MatrixError(f"{path}: cannot read: {e.strerror}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f":{mark.line + 1}" if mark else ""
        context = e.context or ""
        if e.context and e.context_mark and mark and e.context_mark.line != mark.line:
            context += f" (started at line {e.context_mark.line + 1})"
        problem = " ".join(str(p) for p in (context, e.problem) if p)
        raise MatrixError(f"{path}{line}: invalid YAML: {problem}") from None
    except yaml.YAMLError as e:
        raise MatrixError(f"{path}: invalid YAML: {e}") from None
    if node is None:
        raise MatrixError(f"{path}:1: file is empty")
    return node


_KIND = {yaml.MappingNode: "a mapping", yaml.SequenceNode: "a list", yaml.ScalarNode: "a scalar"}
_scalar_loader = yaml.SafeLoader("")


def scalar_value(node: yaml.ScalarNode) -> Any:
    return _scalar_loader.construct_object(node, deep=True)


def kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        v = scalar_value(node)
        return "null" if v is None else f"{type(v).__name__} {v!r}"
    return _KIND.get(type(node), "something else")


@dataclass
class Ctx:
    path: Path
    keypath: str = ""

    def at(self, key: Any) -> "Ctx":
        sep = "." if self.keypath and not str(key).startswith("[") else ""
        return Ctx(self.path, f"{self.keypath}{sep}{key}")

    def error(self, node: yaml.Node | None, msg: str) -> MatrixError:
        return fail(self.path, node, self.keypath, msg)


class Schema:
    def check(self, node: yaml.Node, ctx: Ctx) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass
class Str(Schema):
    pattern: str | None = None
    describe: str = ""

    def check(self, node, ctx):
        if not isinstance(node, yaml.ScalarNode) or not isinstance(v := scalar_value(node), str):
            raise ctx.error(node, f"expected a string, got {kind(node)}")
        if self.pattern and not re.fullmatch(self.pattern, v):
            raise ctx.error(node, f"{v!r} is not {self.describe or 'matching ' + self.pattern}")
        return v


@dataclass
class Int(Schema):
    min: int | None = None
    max: int | None = None

    def check(self, node, ctx):
        v = scalar_value(node) if isinstance(node, yaml.ScalarNode) else None
        if not isinstance(v, int) or isinstance(v, bool):
            raise ctx.error(node, f"expected an integer, got {kind(node)}")
        if (self.min is not None and v < self.min) or (self.max is not None and v > self.max):
            raise ctx.error(node, f"{v} is out of range {self.min}..{self.max}")
        return v


@dataclass
class Bool(Schema):
    def check(self, node, ctx):
        v = scalar_value(node) if isinstance(node, yaml.ScalarNode) else None
        if not isinstance(v, bool):
            raise ctx.error(node, f"expected true or false, got {kind(node)}")
        return v


@dataclass
class Enum(Schema):
    values: tuple

    def check(self, node, ctx):
        v = scalar_value(node) if isinstance(node, yaml.ScalarNode) else None
        if v not in self.values:
            got = repr(v) if isinstance(node, yaml.ScalarNode) else kind(node)
            raise ctx.error(node, f"expected one of {', '.join(map(str, self.values))}; got {got}")
        return v


@dataclass
class List(Schema):
    item: Schema
    unique: bool = False
    min_len: int = 0

    def check(self, node, ctx):
        if not isinstance(node, yaml.SequenceNode):
            raise ctx.error(node, f"expected a list, got {kind(node)}")
        out = []
        for i, child in enumerate(node.value):
            v = self.item.check(child, ctx.at(f"[{i}]"))
            if self.unique and v in out:
                raise ctx.at(f"[{i}]").error(child, f"duplicate entry {v!r}")
            out.append(v)
        if len(out) < self.min_len:
            raise ctx.error(node, f"needs at least {self.min_len} entries")
        return out


def _pairs(node: yaml.Node, ctx: Ctx):
    """(key, key_node, value_node) of a mapping, rejecting duplicate keys (safe_load hides them)."""
    if not isinstance(node, yaml.MappingNode):
        raise ctx.error(node, f"expected a mapping, got {kind(node)}")
    seen = {}
    for knode, vnode in node.value:
        if not isinstance(knode, yaml.ScalarNode):
            raise ctx.error(knode, "keys must be scalars")
        key = scalar_value(knode)
        if key in seen:
            raise ctx.at(key).error(knode, f"duplicate key (first at line {seen[key]})")
        seen[key] = knode.start_mark.line + 1
        yield key, knode, vnode


@dataclass
class Map(Schema):
    """A mapping with free keys (ids) of one value schema."""

    value: Schema
    key: Schema = field(default_factory=lambda: Str(r"[a-z0-9][a-z0-9_-]*", "a lowercase id"))

    def check(self, node, ctx):
        out = {}
        for key, knode, vnode in _pairs(node, ctx):
            k = self.key.check(knode, ctx.at(key))
            out[k] = self.value.check(vnode, ctx.at(key))
        return out


@dataclass
class Record(Schema):
    """A mapping with known fields; `required` names the mandatory ones, unknown fields are errors."""

    fields: dict[str, Schema]
    required: tuple[str, ...] = ()
    extra_check: Callable[[dict, yaml.Node, Ctx], None] | None = None

    def check(self, node, ctx):
        out = {}
        for key, knode, vnode in _pairs(node, ctx):
            if key not in self.fields:
                raise ctx.at(key).error(knode, f"unknown field (known: {', '.join(self.fields)})")
            out[key] = self.fields[key].check(vnode, ctx.at(key))
        missing = [f for f in self.required if f not in out]
        if missing:
            raise ctx.error(node, f"missing required field {', '.join(repr(m) for m in missing)}")
        return out


def locate(node: yaml.Node, *keys: Any) -> yaml.Node:
    """The node at a key path (for cross-reference errors), or the deepest one found."""
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if scalar_value(k) == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            nxt = node.value[key]
        else:
            nxt = None
        if nxt is None:
            return node
        node = nxt
    return node
