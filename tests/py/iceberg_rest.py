"""A minimal, test-only Iceberg REST catalog over pyiceberg's SqlCatalog (sqlite + local files).

DuckDB's Iceberg extension writes (CREATE TABLE, INSERT, MERGE, DELETE) only through a REST
catalog, and no REST catalog server installs offline here, so this one serves the few routes
DuckDB and pyiceberg use: config, namespaces, tables (staged create, load, commit, drop) and
multi-table commits. Commits go through SqlCatalog.commit_table, which checks the requirements
(assert-ref-snapshot-id, ...) and swaps the metadata pointer only if nobody else did: a
concurrent commit is answered 409 CommitFailedException, as a real catalog (Glue for Athena)
rejects it.

Bound to 127.0.0.1 on a free port; `serve(dir)` returns (url, catalog, stop).
"""
import json
import os
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pyiceberg.catalog.rest import CreateTableRequest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NamespaceAlreadyExistsError,
    NoSuchNamespaceError,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.table import CommitTableRequest
from pyiceberg.table.metadata import new_table_metadata
from pyiceberg.table.sorting import UNSORTED_SORT_ORDER
from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC


class _Named:
    """What SqlCatalog.commit_table needs of a table that does not exist yet: its name."""

    def __init__(self, identifier):
        self.identifier = identifier

    def name(self):
        return self.identifier


def _ns(part):
    return tuple(urllib.parse.unquote(part).split("\x1f"))


def make_handler(catalog, warehouse, lock):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _send(self, code, body=None):
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _error(self, code, kind, message):
            self._send(code, {"error": {"message": message, "type": kind, "code": code}})

        def _body(self):
            n = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(n) or b"{}")

        def _parts(self):
            path = urllib.parse.urlparse(self.path).path.strip("/").split("/")
            return path[1:] if path and path[0] == "v1" else path

        def _table_response(self, table):
            return {
                "metadata-location": table.metadata_location,
                "metadata": json.loads(table.metadata.model_dump_json(by_alias=True, exclude_none=True)),
                "config": {},
            }

        def _commit(self, req):
            identifier = tuple(req.identifier.namespace.root) + (req.identifier.name,)
            # One commit at a time: SqlCatalog on sqlite checks the pointer inside its own
            # transaction, the lock only keeps sqlite from "database is locked" errors.
            with lock:
                resp = catalog.commit_table(_Named(identifier), req.requirements, req.updates)
            return {
                "metadata-location": resp.metadata_location,
                "metadata": json.loads(resp.metadata.model_dump_json(by_alias=True, exclude_none=True)),
            }

        def handle_one(self):
            p = self._parts()
            m = self.command
            if p == ["config"]:
                return self._send(200, {"defaults": {}, "overrides": {}})
            if p == ["transactions", "commit"] and m == "POST":
                for change in self._body().get("table-changes", []):
                    self._commit(CommitTableRequest.model_validate(change))
                return self._send(204)
            if p and p[0] == "namespaces":
                if len(p) == 1 and m == "GET":
                    return self._send(200, {"namespaces": [list(n) for n in catalog.list_namespaces()]})
                if len(p) == 1 and m == "POST":
                    b = self._body()
                    with lock:
                        catalog.create_namespace(tuple(b["namespace"]), b.get("properties", {}))
                    return self._send(200, {"namespace": b["namespace"], "properties": b.get("properties", {})})
                ns = _ns(p[1])
                if len(p) == 2:
                    if m == "DELETE":
                        with lock:
                            catalog.drop_namespace(ns)
                        return self._send(204)
                    props = catalog.load_namespace_properties(ns)
                    return self._send(200, {"namespace": list(ns), "properties": props})
                if len(p) == 3 and p[2] == "tables":
                    if m == "GET":
                        ids = [{"namespace": list(t[:-1]), "name": t[-1]} for t in catalog.list_tables(ns)]
                        return self._send(200, {"identifiers": ids})
                    body = self._body()
                    for k in ("location", "partition-spec", "write-order"):
                        body.setdefault(k, None)
                    req = CreateTableRequest.model_validate(body)
                    location = req.location or f"{warehouse}/{'.'.join(ns)}.db/{req.name}"
                    if req.stage_create:
                        meta = new_table_metadata(
                            schema=req.table_schema,
                            partition_spec=req.partition_spec or UNPARTITIONED_PARTITION_SPEC,
                            sort_order=req.write_order or UNSORTED_SORT_ORDER,
                            location=location,
                            properties=req.properties,
                        )
                        return self._send(200, {
                            "metadata": json.loads(meta.model_dump_json(by_alias=True, exclude_none=True)),
                            "config": {},
                        })
                    with lock:
                        t = catalog.create_table(
                            ns + (req.name,),
                            schema=req.table_schema,
                            location=location,
                            partition_spec=req.partition_spec or UNPARTITIONED_PARTITION_SPEC,
                            sort_order=req.write_order or UNSORTED_SORT_ORDER,
                            properties=req.properties,
                        )
                    return self._send(200, self._table_response(t))
                if len(p) == 4 and p[2] == "tables":
                    ident = ns + (urllib.parse.unquote(p[3]),)
                    if m in ("GET", "HEAD"):
                        t = catalog.load_table(ident)
                        return self._send(200 if m == "GET" else 204, self._table_response(t) if m == "GET" else None)
                    if m == "DELETE":
                        with lock:
                            catalog.drop_table(ident)
                        return self._send(204)
                    if m == "POST":
                        return self._send(200, self._commit(CommitTableRequest.model_validate(self._body())))
            return self._error(404, "NotFound", f"no route {m} {self.path}")

        def _dispatch(self):
            try:
                self.handle_one()
            except (NoSuchTableError, NoSuchNamespaceError) as e:
                self._error(404, type(e).__name__, str(e))
            except (NamespaceAlreadyExistsError, TableAlreadyExistsError) as e:
                self._error(409, "AlreadyExistsException", str(e))
            except CommitFailedException as e:
                self._error(409, "CommitFailedException", str(e))
            except Exception as e:  # noqa: BLE001 - a test server reports everything
                self._error(500, type(e).__name__, repr(e))

        do_GET = do_POST = do_DELETE = do_HEAD = _dispatch

    return Handler


def serve(directory):
    """Starts the catalog on 127.0.0.1 (free port) over `directory`; returns (url, catalog, stop)."""
    warehouse = os.path.join(directory, "warehouse")
    os.makedirs(warehouse, exist_ok=True)
    catalog = SqlCatalog(
        "test",
        uri=f"sqlite:///{os.path.join(directory, 'catalog.db')}",
        warehouse=f"file://{warehouse}",
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(catalog, f"file://{warehouse}", threading.Lock()))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop():
        server.shutdown()
        server.server_close()

    return f"http://127.0.0.1:{server.server_address[1]}", catalog, stop
