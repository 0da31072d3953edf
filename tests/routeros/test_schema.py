"""Command trees: loading restraml JSON, the cache, import, and fetch over HTTP."""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from sdx_tui.backend.routeros.schema import (
    CommandTree,
    SchemaError,
    fetch_schema,
    find_cached_schema,
    import_schema,
    list_cached_schemas,
    load_cached_schema,
    load_schema,
    parse_schema,
)


@pytest.fixture(scope="module")
def schema_dir(shared_dir: Path) -> Path:
    return shared_dir / "schema"


@pytest.fixture(scope="module")
def tree(schema_dir: Path) -> CommandTree:
    return load_schema(schema_dir / "routeros-7.22.3-inspect.json")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        del format, args


@pytest.fixture
def mirror(tmp_path: Path, schema_dir: Path) -> Iterator[tuple[str, Path]]:
    """A restraml-like site on 127.0.0.1 (a free port), serving one release."""
    root = tmp_path / "site"
    (root / "7.22.3").mkdir(parents=True)
    shutil.copy(
        schema_dir / "routeros-7.22.3-inspect.json", root / "7.22.3/inspect.json"
    )
    (root / "9.9").mkdir()
    (root / "9.9" / "inspect.json").write_text("<html>not json</html>")
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(_QuietHandler, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)


def test_lookups_follow_the_tree(tree: CommandTree) -> None:
    assert tree.kind([]) == "dir"
    assert tree.kind(["ip", "firewall", "filter"]) == "dir"
    assert tree.kind(["ip", "address", "add"]) == "cmd"
    assert tree.kind(["system"]) == "dir"  # a `path` node is a menu too
    assert tree.kind(["ip", "address", "add", "interface"]) == "arg"
    assert tree.kind(["ip", "nonsense"]) is None
    assert tree.kind(["ip", "_type"]) is None
    assert "interface" in tree.parameters(["ip", "address", "add"])
    assert tree.parameters(["ip", "address"]) == frozenset()
    assert "firewall" in tree.children(["ip"])


def test_unambiguous_prefixes_match_like_routeros(tree: CommandTree) -> None:
    assert tree.match(["ip"], "fire") == "firewall"
    assert tree.match(["ip"], "firewall") == "firewall"
    assert tree.match(["ip"], "d") is None  # dhcp-client, dhcp-server, dns...
    assert tree.match(["ip", "address"], "interface") is None  # a parameter
    assert tree.match_parameter(["ip", "firewall", "nat", "add"], "to-addr") == (
        "to-addresses"
    )


def test_the_deep_tree_loads_the_same_way(schema_dir: Path) -> None:
    deep = load_schema(schema_dir / "routeros-7.22.3-deep-inspect.json")
    assert deep.version == "7.22.3"
    assert deep.kind(["ip", "address", "add"]) == "cmd"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "not an object"),
        (b'{"ip": 1}', "has no _type"),
        (b'{"put": {"_type": "cmd"}}', "no menus"),
    ],
)
def test_what_is_not_a_tree_is_refused(data: bytes, reason: str) -> None:
    with pytest.raises(SchemaError, match=reason):
        parse_schema(data)


def test_import_copies_the_file_under_its_version(
    tmp_path: Path, schema_dir: Path
) -> None:
    cache = tmp_path / "cache"
    cached = import_schema(schema_dir / "routeros-7.24-inspect.json", cache)
    assert cached.version == "7.24"
    assert cached.path == cache / "routeros-7.24.json"
    deep = import_schema(schema_dir / "routeros-7.22.3-deep-inspect.json", cache)
    assert deep.version == "7.22.3"
    assert [c.version for c in list_cached_schemas(cache)] == ["7.22.3", "7.24"]

    tree = load_cached_schema("7.24", cache)
    assert tree is not None and tree.version == "7.24"
    assert tree.kind(["ip", "address", "print"]) == "cmd"
    assert load_cached_schema("7.25", cache) is None


def test_a_file_that_names_no_version_needs_one(tmp_path: Path) -> None:
    source = tmp_path / "tree.json"
    source.write_text(json.dumps({"ip": {"_type": "dir"}}))
    with pytest.raises(SchemaError, match="give the version"):
        import_schema(source, tmp_path / "cache")
    cached = import_schema(source, tmp_path / "cache", version="7.1")
    assert cached.path.name == "routeros-7.1.json"


def test_versions_that_are_not_versions_never_reach_a_path(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="not a RouterOS version"):
        load_cached_schema("../../etc/passwd", tmp_path)
    with pytest.raises(SchemaError, match="not a RouterOS version"):
        fetch_schema("7", tmp_path, base_url="http://127.0.0.1:9")


def test_find_prefers_the_exact_release_then_the_newest_patch(
    tmp_path: Path, schema_dir: Path
) -> None:
    source = schema_dir / "routeros-7.24-inspect.json"
    for version in ("7.22", "7.22.1", "7.22.3"):
        import_schema(source, tmp_path, version=version)
    assert find_cached_schema("7.22", tmp_path).version == "7.22"  # type: ignore[union-attr]
    assert find_cached_schema("7.22.2", tmp_path).version == "7.22.3"  # type: ignore[union-attr]
    assert find_cached_schema("7.23", tmp_path) is None


def test_cached_trees_are_parsed_once_until_the_file_changes(
    tmp_path: Path, schema_dir: Path
) -> None:
    import_schema(schema_dir / "routeros-7.24-inspect.json", tmp_path)
    first = load_cached_schema("7.24", tmp_path)
    assert load_cached_schema("7.24", tmp_path) is first
    import_schema(schema_dir / "routeros-7.22.3-inspect.json", tmp_path, version="7.24")
    assert load_cached_schema("7.24", tmp_path) is not first


def test_fetch_downloads_into_the_cache(
    tmp_path: Path, mirror: tuple[str, Path]
) -> None:
    base_url, _ = mirror
    cached = fetch_schema("7.22.3", tmp_path / "cache", base_url=base_url)
    assert cached.path == tmp_path / "cache" / "routeros-7.22.3.json"
    tree = load_cached_schema("7.22.3", tmp_path / "cache")
    assert tree is not None
    assert tree.kind(["system", "reboot"]) == "cmd"


def test_fetch_reports_a_missing_release_and_keeps_the_cache_clean(
    tmp_path: Path, mirror: tuple[str, Path]
) -> None:
    base_url, _ = mirror
    with pytest.raises(SchemaError, match=r"no command tree for RouterOS 7\.99"):
        fetch_schema("7.99", tmp_path, base_url=base_url)
    with pytest.raises(SchemaError, match="not valid JSON"):
        fetch_schema("9.9", tmp_path, base_url=base_url)
    assert list_cached_schemas(tmp_path) == []


def test_fetch_uses_the_client_it_is_given(
    tmp_path: Path, mirror: tuple[str, Path]
) -> None:
    base_url, _ = mirror
    with httpx.Client(base_url=base_url, timeout=30) as client:
        cached = fetch_schema("7.22.3", tmp_path, base_url=base_url, client=client)
        assert not client.is_closed
    assert cached.version == "7.22.3"


def test_fetch_reports_an_unreachable_server(tmp_path: Path) -> None:
    # A bound socket that never listens: connections to it are refused.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        with pytest.raises(SchemaError, match="cannot fetch"):
            fetch_schema("7.22.3", tmp_path, base_url=f"http://127.0.0.1:{port}")
