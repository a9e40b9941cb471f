"""A Chroma server behind a proxy (an ingress, a load balancer): while the server restarts the proxy
answers 502/503 pages, which chromadb raises as a plain ``Exception``. That is the server being
unavailable, as a refused connection is: answers go on lexically, and index changes wait."""

from __future__ import annotations

import http.client
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bot.config import VectorSettings
from bot.ml import Unit, VectorIndexUnavailable
from bot.testing import HashEmbedder
from brain.qa.access import AccessScope
from brain.qa.bm25 import BM25Index
from brain.qa.retriever import Retriever
from brain.qa.vector_index import ChromaUnitIndex, open_chroma_client
from tests.services.test_chroma_server import ChromaServer

pytestmark = pytest.mark.services


class _Proxy(http.server.BaseHTTPRequestHandler):
    """Forwards to the Chroma server, or answers a gateway error page while ``failing``."""

    protocol_version = "HTTP/1.1"
    upstream_port = 0
    failing = False

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        if _Proxy.failing:
            page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            self.send_response(502)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return
        upstream = http.client.HTTPConnection("127.0.0.1", _Proxy.upstream_port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        upstream.request(self.command, self.path, body=body, headers=headers)
        response = upstream.getresponse()
        data = response.read()
        upstream.close()
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in ("transfer-encoding", "content-length", "connection"):
                self.send_header(key, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _forward

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def behind_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VectorSettings]:
    server = ChromaServer(Path(tmp_path_factory.mktemp("chroma-proxied")))
    server.start()
    _Proxy.upstream_port = server.port
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield VectorSettings(kind="http", host="127.0.0.1", port=proxy.server_address[1])
    finally:
        _Proxy.failing = False
        proxy.shutdown()
        proxy.server_close()
        server.stop()


async def test_a_gateway_error_is_the_vector_index_being_unavailable(behind_proxy: VectorSettings) -> None:
    embedder = HashEmbedder()
    index = ChromaUnitIndex(open_chroma_client(behind_proxy), "proxied", embedder.dim)
    unit = Unit("u1", "slack", "T1", "C1", "rotate the deploy key with the vault cli", message_ids=("1",))
    await index.upsert([unit], embedder.embed([unit.text]))
    bm25 = BM25Index()
    bm25.add([unit])
    retriever = Retriever(embedder, index, bm25)
    _Proxy.failing = True
    try:
        with pytest.raises(VectorIndexUnavailable):
            await index.upsert([unit], embedder.embed([unit.text]))
        with pytest.raises(VectorIndexUnavailable):
            await index.delete(["u1"])
        # A question is answered from the lexical index meanwhile, as with a server that is down.
        found = await retriever.search("deploy key", AccessScope("slack", "T1"), k=3)
        assert [s.unit.unit_id for s in found] == ["u1"]
    finally:
        _Proxy.failing = False
    assert await index.count() == 1
    vector = np.asarray(embedder.embed(["deploy key"])[0])
    assert [s.unit.unit_id for s in await index.query_scope(vector, k=3, scope=AccessScope("slack", "T1"))] == ["u1"]
