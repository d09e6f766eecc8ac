"""Safe, bounded YAML loading: no arbitrary tags, no duplicate keys, errors that name file and line.

A parameter file is read only if it is a regular file of at most :data:`MAX_BYTES`; its
nesting is at most :data:`MAX_DEPTH` levels, it uses at most :data:`MAX_ALIASES` aliases
and expands to at most :data:`MAX_NODES` values (an "alias bomb" of a few kilobytes would
otherwise expand to billions). The limits are checked on the event stream and the node
graph before anything is built, so a hostile file costs milliseconds.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import yaml

from .errors import PerfsimError

MAX_BYTES = 1_000_000
MAX_DEPTH = 64
MAX_ALIASES = 1_000
MAX_NODES = 200_000


#: libyaml's C parser when PyYAML was built with it (about 10x faster than the pure-Python
#: one; both give the same documents, events and error positions)
_SAFE_LOADER = getattr(yaml, "CSafeLoader", None) if getattr(yaml, "__with_libyaml__", False) else None
_SAFE_LOADER = _SAFE_LOADER or yaml.SafeLoader


class _StrictSafeLoader(_SAFE_LOADER):
    """SafeLoader that refuses duplicate mapping keys (PyYAML silently keeps the last)."""


def _construct_mapping(loader: _StrictSafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            raise PerfsimError(f"line {key_node.start_mark.line + 1}: a key must be a plain value",
                               where=loader.name) from None
        if key in mapping:
            line = key_node.start_mark.line + 1
            raise PerfsimError(f"line {line}: duplicate key {key!r}", where=loader.name)
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


_StrictSafeLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_regular(path: Path, limit: int = MAX_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (never a FIFO, device or folder)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise PerfsimError("file not found", where=path) from None
    except OSError as exc:
        raise PerfsimError(f"cannot read file ({exc.strerror})", where=path) from None
    if stat.S_ISDIR(mode):
        raise PerfsimError("is a folder, not a file", where=path)
    if not stat.S_ISREG(mode):
        raise PerfsimError("is not a regular file (a FIFO, socket or device)", where=path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise PerfsimError(f"cannot read file ({exc.strerror})", where=path) from None
    if len(data) > limit:
        raise PerfsimError(f"larger than {limit:,} bytes: not a parameter file", where=path)
    return data


def _check_events(text: str, where: Path) -> None:
    """Depth and alias limits, on the event stream (iterative: no recursion)."""
    depth = aliases = 0
    try:
        for event in yaml.parse(text, Loader=_SAFE_LOADER):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise PerfsimError(f"line {event.start_mark.line + 1}: nested more than {MAX_DEPTH} "
                                       "levels deep", where=where)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            elif isinstance(event, yaml.AliasEvent):
                aliases += 1
                if aliases > MAX_ALIASES:
                    raise PerfsimError(f"line {event.start_mark.line + 1}: more than {MAX_ALIASES} "
                                       "aliases", where=where)
    except yaml.YAMLError:
        return              # the loader reports syntax errors with their line


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """How many values a node stands for once its aliases are expanded."""
    known = memo.get(id(node))
    if known is not None:
        return known
    memo[id(node)] = MAX_NODES + 1          # a cycle counts as too large
    if isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(v, memo) for v in node.value)
    else:
        size = 1
    memo[id(node)] = min(size, MAX_NODES + 1)
    return memo[id(node)]


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Load one YAML mapping with a safe, bounded loader; every failure is a :class:`PerfsimError`."""
    path = Path(path)
    if str(path) in ("", "."):
        raise PerfsimError("no file named (empty path)", where=path)
    data_bytes = read_regular(path)
    try:
        text = data_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise PerfsimError("not UTF-8 text", where=path) from None
    return load_yaml_text(text, path)


def load_yaml_text(text: str, where: str | Path = "<text>") -> dict[str, Any]:
    """Parse YAML text with the same safe, bounded loader (``where`` names it in errors)."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise PerfsimError(f"larger than {MAX_BYTES:,} bytes", where=where)
    _check_events(text, where)
    loader = _StrictSafeLoader(text)
    loader.name = str(where)
    try:
        node = loader.get_single_node()
        if node is not None and _expanded_size(node, {}) > MAX_NODES:
            raise PerfsimError(f"expands to more than {MAX_NODES:,} values (too many aliases)", where=where)
        data = loader.construct_document(node) if node is not None else None
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        line = f"line {mark.line + 1}: " if mark is not None else ""
        raise PerfsimError(f"{line}refused YAML tag ({exc.problem}); only plain YAML is allowed",
                           where=where) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PerfsimError(f"{line}not valid YAML ({problem})", where=where) from None
    except RecursionError:
        raise PerfsimError("nested too deeply", where=where) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise PerfsimError("expected a YAML mapping at the top level", where=where)
    return data
