"""Safe YAML loading: no arbitrary tags, no duplicate keys, errors that name file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import PerfsimError


class _StrictSafeLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (PyYAML silently keeps the last)."""


def _construct_mapping(loader: _StrictSafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in mapping:
            line = key_node.start_mark.line + 1
            raise PerfsimError(f"line {line}: duplicate key {key!r}", where=loader.name)
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


_StrictSafeLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Load one YAML mapping with a safe loader; every failure is a :class:`PerfsimError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PerfsimError("file not found", where=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PerfsimError(f"cannot read file ({exc})", where=path) from None
    loader = _StrictSafeLoader(text)
    loader.name = str(path)
    try:
        data = loader.get_single_data()
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        line = f"line {mark.line + 1}: " if mark is not None else ""
        raise PerfsimError(f"{line}refused YAML tag ({exc.problem}); only plain YAML is allowed",
                           where=path) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PerfsimError(f"{line}not valid YAML ({problem})", where=path) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise PerfsimError("expected a YAML mapping at the top level", where=path)
    return data
