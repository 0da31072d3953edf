"""The RouterOS command tree, in the restraml ``/console/inspect`` format.

restraml publishes, for every RouterOS release, the tree RouterOS itself
reports through ``/console/inspect``: nested JSON objects whose ``_type`` is
``dir`` (or ``path``) for a menu, ``cmd`` for a command and ``arg`` for a
parameter; keys starting with ``_`` (and ``desc``) are metadata. The deep
variant adds a top-level ``_meta`` object (with ``version``) and ``_completion``
maps on arguments; both shapes load the same way.

Trees are cached as ``routeros-<version>.json`` in the schema cache directory
(``Settings.schema_cache_dir``). They get there by ``import_schema`` (a file
the user has) or ``fetch_schema`` (the public restraml site, or any mirror with
the same layout: ``<base_url>/<version>/inspect.json``).

A :class:`CommandTree` wraps the parsed JSON without copying it, so loading
costs one ``json.loads``; lookups walk dictionaries, and parameter sets are
cached per command.
"""

from __future__ import annotations

import json
import logging
import os
import re
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import httpx

from sdx_tui.backend.errors import InvalidInput
from sdx_tui.backend.routeros.versions import is_valid_version, parse_version

__all__ = [
    "DEFAULT_BASE_URL",
    "CachedSchema",
    "CommandTree",
    "NodeKind",
    "SchemaError",
    "fetch_schema",
    "find_cached_schema",
    "import_schema",
    "list_cached_schemas",
    "load_cached_schema",
    "load_schema",
    "parse_schema",
    "schema_path",
]

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://tikoci.github.io/restraml"
"""Where restraml publishes ``<version>/inspect.json`` for each release."""

MAX_SCHEMA_BYTES = 64 * 1024 * 1024
"""Larger files are refused: the deep trees are about 6 MB."""

NodeKind = Literal["dir", "cmd", "arg"]
_KINDS: dict[str, NodeKind] = {"dir": "dir", "path": "dir", "cmd": "cmd", "arg": "arg"}
_FILE_NAME = re.compile(r"routeros-(?P<version>.+)\.json")
_VERSION_IN_NAME = re.compile(r"(\d+\.\d+(?:\.\d+)?(?:(?:beta|rc)\d+)?)")


class SchemaError(InvalidInput):
    """A command tree that cannot be read, fetched or stored."""


@dataclass(frozen=True, slots=True)
class CachedSchema:
    """A command tree in the cache."""

    version: str
    path: Path


class CommandTree:
    """Fast path and parameter lookups over one RouterOS command tree."""

    def __init__(self, root: Mapping[str, Any], *, version: str | None = None) -> None:
        self._root = root
        self.version = version
        """The RouterOS version the tree describes, when known."""
        self._parameters: dict[tuple[str, ...], frozenset[str]] = {}
        self._sorted: dict[tuple[str, ...], list[str]] = {}
        self._kinds: dict[tuple[str, ...], NodeKind | None] = {}
        self._sorted_parameters: dict[tuple[str, ...], list[str]] = {}

    def _node(self, path: Sequence[str]) -> Mapping[str, Any] | None:
        node: Any = self._root
        for segment in path:
            if not segment or segment[0] == "_" or segment == "desc":
                return None
            node = node.get(segment)
            if not isinstance(node, dict):
                return None
        return node  # type: ignore[no-any-return]

    def kind(self, path: Sequence[str]) -> NodeKind | None:
        """``dir``, ``cmd`` or ``arg`` for a path; None when it does not exist."""
        key = tuple(path)
        if not key:
            return "dir"
        if key in self._kinds:
            return self._kinds[key]
        node = self._node(key)
        kind = None if node is None else _KINDS.get(str(node.get("_type")))
        self._kinds[key] = kind
        return kind

    def children(self, path: Sequence[str]) -> list[str]:
        """The names of the menus, commands or parameters below a path."""
        node = self._node(path)
        if node is None:
            return []
        return sorted(
            name
            for name, child in node.items()
            if isinstance(child, dict) and name[0] != "_" and name != "desc"
        )

    def match(self, path: Sequence[str], name: str) -> str | None:
        """The menu or command ``name`` stands for below ``path``.

        RouterOS accepts any unambiguous prefix (``/ip fire conn``); this
        returns the full name, or None when there is no match or several.
        """
        key = tuple(path)
        names = self._sorted.get(key)
        if names is None:
            node = self._node(key) if key else self._root
            names = sorted(
                child_name
                for child_name, child in (node or {}).items()
                if isinstance(child, dict)
                and child_name[0] != "_"
                and child.get("_type") != "arg"
            )
            self._sorted[key] = names
        return _unique_prefix(names, name)

    def match_parameter(self, command: Sequence[str], name: str) -> str | None:
        """The parameter ``name`` stands for, allowing an unambiguous prefix."""
        key = tuple(command)
        names = self._sorted_parameters.get(key)
        if names is None:
            names = sorted(self.parameters(key))
            self._sorted_parameters[key] = names
        return _unique_prefix(names, name)

    def parameters(self, command: Sequence[str]) -> frozenset[str]:
        """The parameter names of a command (empty when it is not a command)."""
        key = tuple(command)
        cached = self._parameters.get(key)
        if cached is None:
            node = self._node(key)
            cached = frozenset()
            if node is not None and node.get("_type") == "cmd":
                cached = frozenset(
                    name
                    for name, child in node.items()
                    if isinstance(child, dict) and child.get("_type") == "arg"
                )
            self._parameters[key] = cached
        return cached


def _unique_prefix(names: list[str], name: str) -> str | None:
    index = bisect_left(names, name)
    if index == len(names) or not names[index].startswith(name):
        return None
    if names[index] == name:
        return name
    if index + 1 < len(names) and names[index + 1].startswith(name):
        return None
    return names[index]


def parse_schema(data: bytes | str, *, source: str = "the command tree") -> CommandTree:
    """Parse restraml JSON into a tree, checking that it has the expected shape."""
    try:
        raw = json.loads(data)
    except (ValueError, RecursionError) as error:
        raise SchemaError(f"{source} is not valid JSON: {error}") from error
    if not isinstance(raw, dict):
        raise SchemaError(f"{source} is not a RouterOS command tree (not an object)")

    menus = 0
    for name, node in raw.items():
        if name.startswith("_"):
            continue
        if not isinstance(node, dict) or not isinstance(node.get("_type"), str):
            raise SchemaError(
                f"{source} is not a RouterOS command tree ({name!r} has no _type)"
            )
        menus += node["_type"] in ("dir", "path")
    if menus == 0:
        raise SchemaError(f"{source} is not a RouterOS command tree (no menus)")

    meta = raw.get("_meta")
    version = meta.get("version") if isinstance(meta, dict) else None
    return CommandTree(raw, version=version if isinstance(version, str) else None)


def _read_limited(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_SCHEMA_BYTES:
            raise SchemaError(f"{path} is too large for a command tree ({size} bytes)")
        return path.read_bytes()
    except OSError as error:
        raise SchemaError(f"cannot read {path}: {error.strerror or error}") from error


def load_schema(path: Path) -> CommandTree:
    """Load a command tree from a restraml JSON file."""
    return parse_schema(_read_limited(path), source=str(path))


def schema_path(version: str, cache_dir: Path) -> Path:
    """Where the tree of a version lives in the cache."""
    if not is_valid_version(version):
        raise SchemaError(
            f"not a RouterOS version: {version!r} (expected e.g. 7.22 or 7.15.3)"
        )
    return cache_dir / f"routeros-{version}.json"


@lru_cache(maxsize=4)
def _load_cached(path: str, mtime_ns: int, size: int) -> CommandTree:
    del mtime_ns, size  # part of the cache key only
    return load_schema(Path(path))


def load_cached_schema(version: str, cache_dir: Path) -> CommandTree | None:
    """The cached tree of a version, or None when it is not in the cache.

    Repeated calls reuse the parsed tree until the file changes.
    """
    path = schema_path(version, cache_dir)
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise SchemaError(f"cannot read {path}: {error.strerror or error}") from error
    tree = _load_cached(str(path), stat.st_mtime_ns, stat.st_size)
    if tree.version is None:
        tree.version = version
    return tree


def list_cached_schemas(cache_dir: Path) -> list[CachedSchema]:
    """Every tree in the cache, oldest version first."""
    if not cache_dir.is_dir():
        return []
    found = []
    for path in cache_dir.iterdir():
        match = _FILE_NAME.fullmatch(path.name)
        if match and is_valid_version(match["version"]):
            found.append(CachedSchema(match["version"], path))
    return sorted(found, key=lambda cached: parse_version(cached.version))


def find_cached_schema(version: str, cache_dir: Path) -> CachedSchema | None:
    """The cached tree for a version: exact, else the newest of the same release.

    ``7.22`` finds ``7.22`` or else the newest cached ``7.22.x``.
    """
    wanted = parse_version(version)
    cached = list_cached_schemas(cache_dir)
    for candidate in cached:
        if parse_version(candidate.version) == wanted:
            return candidate
    same_release = [
        candidate
        for candidate in cached
        if parse_version(candidate.version)[:2] == wanted[:2]
    ]
    return same_release[-1] if same_release else None


def _store(data: bytes, version: str, cache_dir: Path) -> CachedSchema:
    target = schema_path(version, cache_dir)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, target)
    except OSError as error:
        raise SchemaError(
            f"cannot write {target}: {error.strerror or error}"
        ) from error
    return CachedSchema(version, target)


def import_schema(
    path: Path, cache_dir: Path, *, version: str | None = None
) -> CachedSchema:
    """Copy a restraml JSON file into the cache, after checking it.

    The version comes from ``version``, else the file's ``_meta.version``, else
    a version in its name (``routeros-7.22.3-inspect.json``).
    """
    data = _read_limited(path)
    tree = parse_schema(data, source=str(path))
    if version is None:
        version = tree.version
    if version is None:
        match = _VERSION_IN_NAME.search(path.name)
        version = match.group(1) if match else None
    if version is None:
        raise SchemaError(
            f"cannot tell which RouterOS version {path} describes; give the version"
        )

    cached = _store(data, version, cache_dir)
    log.info("imported the RouterOS %s command tree from %s", version, path)
    return cached


def fetch_schema(
    version: str,
    cache_dir: Path,
    *,
    base_url: str = DEFAULT_BASE_URL,
    client: httpx.Client | None = None,
    timeout: float = 60.0,
) -> CachedSchema:
    """Download ``<base_url>/<version>/inspect.json`` into the cache."""
    schema_path(version, cache_dir)  # validates the version before any request
    url = f"{base_url.rstrip('/')}/{version}/inspect.json"
    owned = client is None
    http = client or httpx.Client(timeout=timeout, follow_redirects=True)
    try:
        data = _download(http, url, version)
    finally:
        if owned:
            http.close()

    parse_schema(data, source=url)
    cached = _store(data, version, cache_dir)
    log.info("fetched the RouterOS %s command tree from %s", version, url)
    return cached


def _download(http: httpx.Client, url: str, version: str) -> bytes:
    try:
        with http.stream("GET", url) as response:
            if response.status_code == 404:
                raise SchemaError(f"no command tree for RouterOS {version} at {url}")
            if response.status_code != 200:
                raise SchemaError(
                    f"cannot fetch {url}: HTTP {response.status_code} "
                    f"{response.reason_phrase}"
                )
            chunks = []
            received = 0
            for chunk in response.iter_bytes():
                received += len(chunk)
                if received > MAX_SCHEMA_BYTES:
                    raise SchemaError(f"{url} is too large for a command tree")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.HTTPError as error:
        raise SchemaError(f"cannot fetch {url}: {error}") from error
