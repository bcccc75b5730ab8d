"""Web crawler: fetch pages on 8 threads from a local HTTP server, follow links.

A `ThreadingHTTPServer` on 127.0.0.1 serves generated pages. The pipeline
has no producer: it is started with `start()`, fed a seed URL with
`RunHandle.send`, and ``extract`` sends every new link back to ``fetch``
with `To`. When no page is pending, the crawler calls `close()` and the run
ends. ``fetch`` has an unbounded queue (``queue_size=0``): a loop of bounded
queues could fill up and wait on itself. Port of ``10_web_crawler.rb``,
which only simulated the fetching.
"""

from __future__ import annotations

import re
import threading
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import minigun as mg


def serve(pages: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            i = int(self.path.rsplit("/", 1)[-1])
            links = [
                f'<a href="/page/{j}">{j}</a>'
                for j in (0, 3 * i + 1, 3 * i + 2, 3 * i + 3)
                if j < pages
            ]
            html = f"<html><title>Page {i}</title><body>{''.join(links)}</body></html>"
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # quiet

    class Server(ThreadingHTTPServer):
        request_queue_size = 64  # the default, 5, drops concurrent connections
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(n: int | None = None) -> None:
    n = 120 if n is None else n
    server = serve(n)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    lock = threading.Lock()
    seen, pending, titles = {f"{base}/page/0"}, [1], []

    def fetch(url: str) -> tuple[str, str]:
        with urllib.request.urlopen(url, timeout=10) as response:
            return url, response.read().decode()

    def extract(page: tuple[str, str]):
        url, html = page
        yield re.search(r"<title>(.*?)</title>", html).group(1)  # type: ignore[union-attr]
        with lock:
            for href in re.findall(r'href="([^"]+)"', html):
                link = urllib.parse.urljoin(url, href)
                if link not in seen:
                    seen.add(link)
                    pending[0] += 1
                    yield mg.To("fetch", link)
            pending[0] -= 1
            if pending[0] == 0:
                handle.close()  # nothing left to crawl: let the run end

    pipe = mg.Pipeline("crawler")
    pipe.add(mg.Processor("fetch", fetch, threads=8, queue_size=0))
    pipe.add(mg.Processor("extract", extract))
    pipe.add(mg.Consumer("save", titles.append))
    try:
        handle = pipe.start()
        handle.send(f"{base}/page/0", to="fetch")
        report = handle.wait(timeout=60)
    finally:
        server.shutdown()
        server.server_close()

    assert len(titles) == n
    print(
        f"crawled {len(titles)} pages in {report.duration:.2f}s "
        f"({report.stages['fetch'].throughput:.0f} pages/s on 8 threads)"
    )


if __name__ == "__main__":
    main()
