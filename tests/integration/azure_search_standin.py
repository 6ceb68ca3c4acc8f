"""STAND-IN for Azure AI Search, for tests only: NOT the real service.

Azure AI Search has no emulator and cannot be reached from the machines opskit
is tested on. This small HTTP server answers the few REST calls that
opskit.ops.azure_search_index makes through the real azure-search-documents
SDK, so the export/import round trip runs end to end through that SDK:

    GET  /indexes('<name>')                        index definition (404 when missing)
    POST /indexes                                  create an index
    GET  /indexes('<name>')/docs/$count            document count
    POST /indexes('<name>')/docs/search.post.search  search "*" with skip/top paging
                                                   (50 a page, @search.nextPageParameters)
    POST /indexes('<name>')/docs/search.index      upload / mergeOrUpload / merge / delete

It serves HTTPS (the SDK refuses plain HTTP endpoints) with a self-signed
certificate made for 127.0.0.1 when it starts; clients trust it through
REQUESTS_CA_BUNDLE=<cert>. It checks the api-key header (403 otherwise). It keeps documents in memory,
does no text search, scoring, analysis or vector search, and ignores every
other query parameter; it is not a model of the service beyond these calls.
"""
import json
import os
import ssl
import subprocess
import tempfile
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = 50


class SearchStandIn:
    def __init__(self, api_key="standin-admin-key", workdir=None):
        self.workdir = workdir or tempfile.mkdtemp(prefix="search-standin-")
        self.cert = os.path.join(self.workdir, "standin-cert.pem")
        self.api_key = api_key
        self.indexes = {}      # name -> definition (REST JSON)
        self.documents = {}    # name -> {key: document}
        self.requests = []     # (method, path) of every request, for the tests
        self.lock = threading.Lock()
        self._server = None
        self._thread = None

    # -- state helpers for tests ---------------------------------------------------------
    def add_index(self, definition, documents=()):
        with self.lock:
            self.indexes[definition["name"]] = dict(definition)
            key = self.key_of(definition["name"])
            self.documents[definition["name"]] = dict((str(d[key]), dict(d)) for d in documents)

    def key_of(self, name):
        return [f["name"] for f in self.indexes[name]["fields"] if f.get("key")][0]

    # -- server --------------------------------------------------------------------------
    def start(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body=None):
                data = b"" if body is None else json.dumps(body).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json; odata.metadata=none")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status, code, message):
                self._send(status, {"error": {"code": code, "message": message}})

            def _handle(self, method):
                path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null") if length else None
                with standin.lock:
                    standin.requests.append((method, path))
                if self.headers.get("api-key") != standin.api_key:
                    return self._error(403, "Forbidden", "Authorization failed: the api-key is not valid.")
                with standin.lock:
                    return self._route(method, path, body)

            def _route(self, method, path, body):
                if path == "/indexes" and method == "POST":
                    if body["name"] in standin.indexes:
                        return self._error(409, "ResourceNameAlreadyInUse", "index exists")
                    standin.indexes[body["name"]] = body
                    standin.documents[body["name"]] = {}
                    return self._send(201, body)
                if not path.startswith("/indexes('"):
                    return self._error(404, "NotFound", "no such resource %s" % path)
                name, _sep, rest = path[len("/indexes('"):].partition("')")
                if name not in standin.indexes:
                    return self._error(404, "ResourceNameNotFound", "No index with the name '%s' was found." % name)
                docs = standin.documents[name]
                if rest == "" and method == "GET":
                    return self._send(200, dict(standin.indexes[name], **{"@odata.etag": '"0x1"'}))
                if rest == "/docs/$count" and method == "GET":
                    return self._send(200, len(docs))
                if rest == "/docs/search.post.search" and method == "POST":
                    return self._search(docs, body or {})
                if rest == "/docs/search.index" and method == "POST":
                    return self._index(name, docs, body or {})
                return self._error(404, "NotFound", "not served by the stand-in: %s %s" % (method, path))

            def _search(self, docs, request):
                everything = list(docs.values())
                skip = int(request.get("skip") or 0)
                top = request.get("top")
                page = min(PAGE, int(top)) if top is not None else PAGE
                chunk = everything[skip:skip + page]
                answer = {"value": [dict(d, **{"@search.score": 1.0}) for d in chunk]}
                if request.get("count"):
                    answer["@odata.count"] = len(everything)
                left = len(everything) - skip - len(chunk)
                if top is not None:
                    left = min(left, int(top) - len(chunk))
                if left > 0:
                    following = dict(request, skip=skip + len(chunk))
                    if top is not None:
                        following["top"] = int(top) - len(chunk)
                    answer["@search.nextPageParameters"] = following
                return self._send(200, answer)

            def _index(self, name, docs, batch):
                key = standin.key_of(name)
                results, failed = [], False
                for action in batch.get("value", []):
                    kind = action.pop("@search.action", "upload")
                    doc_key = str(action.get(key))
                    if kind == "delete":
                        docs.pop(doc_key, None)
                        results.append({"key": doc_key, "status": True, "errorMessage": None, "statusCode": 200})
                        continue
                    if kind == "merge" and doc_key not in docs:
                        failed = True
                        results.append({"key": doc_key, "status": False, "statusCode": 404,
                                        "errorMessage": "Document not found."})
                        continue
                    if kind in ("merge", "mergeOrUpload") and doc_key in docs:
                        docs[doc_key] = dict(docs[doc_key], **action)
                    else:
                        docs[doc_key] = action
                    results.append({"key": doc_key, "status": True, "errorMessage": None, "statusCode": 201})
                return self._send(207 if failed else 200, {"value": results})

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

        key = os.path.join(self.workdir, "standin-key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", self.cert],
                       check=True, capture_output=True)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return "https://127.0.0.1:%d" % self._server.server_address[1]

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
