"""The driver's curl line against a real local HTTP server."""
import json
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from node.driver import curl_command, parse_http


@pytest.mark.parametrize("body_from", ["stdin", "file"])
def test_curl_command_round_trip(body_from, tmp_path):
    """The driver's curl line against a real local server, as the chaos ops run it with a body
    file: a status mark starting with "@" made curl read the -w format from a file (found by
    the kill -9 mid-install experiment: no install request was ever sent)."""
    if not shutil.which("curl"):
        pytest.fail("curl is not installed (Debian package curl)")

    class Echo(BaseHTTPRequestHandler):
        def do_POST(self):
            data = self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(json.dumps({"got": json.loads(data)}).encode())

        def log_message(self, *a):
            pass

    srv = HTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=srv.handle_request, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_port}/rpc/v1"
    req = tmp_path / "op.req"
    req.write_text('{"id": 7}')
    if body_from == "file":
        cmd, stdin = curl_command(url, 10, f"@{req}"), None
    else:
        cmd, stdin = curl_command(url, 10, "@-"), req.read_text()
    r = subprocess.run(cmd, shell=True, input=stdin, capture_output=True, text=True, timeout=30)
    srv.server_close()
    assert parse_http(r.stdout) == (200, '{"got": {"id": 7}}'), r.stderr
