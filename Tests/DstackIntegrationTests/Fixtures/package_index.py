"""A package index (PEP 503 simple API) on loopback that logs what it is sent.

Usage: package_index.py LOG MODE [ARGUMENT]

Prints its URL (http://127.0.0.1:PORT/) on the first line of standard output, then
answers until killed. Every request is logged to LOG as one line: the method, the path
and the Authorization header it carried ("-" for none), and for an upload the file's name.

Modes:
  has FILE             /simple/NAME/ lists FILE to anyone
  private FILE         the same, but anonymous reads get 401 (any Authorization is accepted)
  redirect URL         every request is redirected (302) to URL + its path
  slow SECONDS         uploads are answered after SECONDS (and logged unless the client left)
  refuse FILE          the upload of FILE is refused (400)
Uploads (POST) are logged and, unless refused, accepted (200).
"""
import http.server
import re
import socket
import sys
import time

log, mode, argument = sys.argv[1], sys.argv[2], sys.argv[3]


class Index(http.server.BaseHTTPRequestHandler):
    def record(self, *extra):
        with open(log, "a") as file:
            file.write(" ".join([self.command, self.path, self.headers.get("Authorization", "-"), *extra]) + "\n")

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.record()
        if mode == "redirect":
            self.answer(302, headers=[("Location", argument.rstrip("/") + self.path)])
        elif mode == "private" and "Authorization" not in self.headers:
            self.answer(401, b"log in", [("WWW-Authenticate", 'Basic realm="index"')])
        elif self.path.startswith("/simple/") and mode in ("has", "private"):
            page = f'<html><body><a href="../../packages/{argument}#sha256=00">{argument}</a></body></html>'
            self.answer(200, page.encode(), [("Content-Type", "text/html")])
        else:
            self.answer(404)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        found = re.search(rb'filename="([^"]+)"', body)
        name = found.group(1).decode() if found else "-"
        if mode == "slow":
            time.sleep(float(argument))
            if self.client_left():
                return  # a cut upload is not stored, and not logged
        self.record(name)
        if mode == "refuse" and name == argument:
            self.answer(400, f"refused {name}".encode())
        else:
            self.answer(200, b"OK")

    def client_left(self):
        self.connection.setblocking(False)
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except BlockingIOError:
            return False
        finally:
            self.connection.setblocking(True)

    def log_message(self, *arguments):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Index)
print(f"http://127.0.0.1:{server.server_address[1]}/", flush=True)
server.serve_forever()
