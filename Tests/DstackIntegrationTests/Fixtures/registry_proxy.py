"""A loopback front for a real docker-registry, for dstack's tests.

It adds what Debian's docker-registry 2.8 does not do, so dstack's client meets them:
- tag lists in pages of `n` with a `Link: <...>; rel="next"` header (the registry ignores `n`);
- with --user/--password, Bearer-token authentication: /v2/ answers 401 with a
  `WWW-Authenticate: Bearer realm=".../token",service=...,scope=...` challenge, and /token
  hands out a token for HTTP Basic credentials.
- with --answer STATUS (or "garbage"), every /v2/ request after the first gets that
  status (or a 200 that is not JSON), to test how dstack handles a failing registry.
- with --basic U:P, HTTP Basic authentication, as htpasswd-protected registries do;
- with --trickle, tag lists that send one byte every two seconds;
- with --link-loop, tag lists whose `Link: rel="next"` points at the same page;
- with --rate-limit N, the first N requests for tags, manifests or blobs answer 429 with
  `Retry-After: SECONDS` (--retry-after, default 1), as a registry that rate-limits does;
- with --phantom-tags N, tag lists of N version tags whose manifests are missing (404);
- with --huge-blobs, blobs of 70 MiB of zeros (more than dstack reads);
- with --swap-layers-from REPO, manifests whose layers are REPO's (the configuration stays),
  as a hostile registry would serve a legitimate mini's configuration with its own layer.
Everything else is passed to the upstream registry unchanged.

    python3 registry_proxy.py --listen 127.0.0.1:PORT --upstream 127.0.0.1:5000 [--user U --password P]
                              [--answer STATUS|garbage] [--basic U:P] [--trickle] [--link-loop]
                              [--swap-layers-from REPO] [--huge-blobs] [--rate-limit N [--retry-after S]]
                              [--phantom-tags N]
"""

import argparse
import base64
import http.server
import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request

parser = argparse.ArgumentParser()
parser.add_argument("--listen", required=True)
parser.add_argument("--upstream", required=True)
parser.add_argument("--user")
parser.add_argument("--password")
parser.add_argument("--answer")
parser.add_argument("--basic")
parser.add_argument("--trickle", action="store_true")
parser.add_argument("--link-loop", action="store_true")
parser.add_argument("--swap-layers-from")
parser.add_argument("--huge-blobs", action="store_true")
parser.add_argument("--rate-limit", type=int, default=0)
parser.add_argument("--retry-after", default="1")
parser.add_argument("--phantom-tags", type=int, default=0)
options = parser.parse_args()
MANIFEST_TYPES = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"
TOKEN = secrets.token_hex(16)


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/token":
            return self.token()
        if options.answer and url.path != "/v2/":
            if options.answer == "garbage":
                return self.reply(200, b"<html>surprise</html>", [("Content-Type", "application/json")])
            return self.reply(int(options.answer), b'{"errors":[{"code":"UNKNOWN"}]}')
        if options.basic and self.headers.get("Authorization") != "Basic " + base64.b64encode(
                options.basic.encode()).decode():
            return self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', [("WWW-Authenticate", 'Basic realm="test"')])
        if options.user and self.headers.get("Authorization") != "Bearer " + TOKEN:
            name = url.path.split("/v2/", 1)[-1].rsplit("/", 2)[0]
            challenge = 'Bearer realm="http://%s/token",service="test-registry",scope="repository:%s:pull"' % (
                options.listen, name)
            return self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', [("WWW-Authenticate", challenge)])
        if options.rate_limit > 0 and url.path != "/v2/":
            options.rate_limit -= 1
            return self.reply(429, b'{"errors":[{"code":"TOOMANYREQUESTS"}]}', [("Retry-After", options.retry_after)])
        if options.phantom_tags and url.path.endswith("/tags/list"):
            tags = ["%02d.%02d.%02d" % (10 + i // 336, 1 + i // 28 % 12, 1 + i % 28) for i in range(options.phantom_tags)]
            return self.reply(200, json.dumps({"name": "x", "tags": tags}).encode(), [("Content-Type", "application/json")])
        if options.phantom_tags and "/manifests/" in url.path:
            return self.reply(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
        if url.path.endswith("/tags/list"):
            if options.trickle:
                return self.trickle()
            if options.link_loop:
                return self.reply(200, b'{"name":"x","tags":["24.01.01"]}',
                                  [("Content-Type", "application/json"), ("Link", '<%s>; rel="next"' % self.path)])
            return self.tags(url)
        if options.huge_blobs and "/blobs/" in url.path:
            return self.huge()
        if options.swap_layers_from and "/manifests/" in url.path:
            return self.swapped_manifest(url)
        if options.swap_layers_from and "/blobs/" in url.path:
            status, body, headers = self.upstream(self.path)
            if status == 404:
                digest = url.path.rsplit("/", 1)[-1]
                status, body, headers = self.upstream("/v2/%s/blobs/%s" % (options.swap_layers_from, digest))
            return self.reply(status, body)
        self.forward()

    def huge(self):
        chunk, count = bytes(1 << 20), 70
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(chunk) * count))
        self.end_headers()
        try:
            for _ in range(count):
                self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def trickle(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        for _ in range(500):
            self.wfile.write(b" ")
            self.wfile.flush()
            time.sleep(2)

    def swapped_manifest(self, url):
        name, reference = url.path[len("/v2/"):].split("/manifests/")
        status, body, _ = self.upstream(url.path, MANIFEST_TYPES)
        if status != 200:
            return self.reply(status, body)
        manifest = json.loads(body)
        _, other, _ = self.upstream("/v2/%s/manifests/%s" % (options.swap_layers_from, reference), MANIFEST_TYPES)
        manifest["layers"] = json.loads(other)["layers"]
        self.reply(200, json.dumps(manifest).encode(), [("Content-Type", manifest["mediaType"])])

    def token(self):
        expected = base64.b64encode(("%s:%s" % (options.user, options.password)).encode()).decode()
        if self.headers.get("Authorization") != "Basic " + expected:
            return self.reply(401, b'{"details":"bad credentials"}')
        self.reply(200, json.dumps({"token": TOKEN}).encode(), [("Content-Type", "application/json")])

    def tags(self, url):
        query = urllib.parse.parse_qs(url.query)
        status, body, _ = self.upstream(url.path)
        if status != 200:
            return self.reply(status, body)
        listing = json.loads(body)
        tags = sorted(listing.get("tags") or [])
        if "last" in query:
            tags = [tag for tag in tags if tag > query["last"][0]]
        headers = [("Content-Type", "application/json")]
        if "n" in query:
            size = int(query["n"][0])
            if len(tags) > size:
                tags = tags[:size]
                following = "%s?n=%d&last=%s" % (url.path, size, urllib.parse.quote(tags[-1]))
                headers.append(("Link", '<%s>; rel="next"' % following))
        self.reply(200, json.dumps({"name": listing["name"], "tags": tags}).encode(), headers)

    def forward(self):
        status, body, headers = self.upstream(self.path, self.headers.get("Accept"))
        self.reply(status, body, [(k, v) for k, v in headers if k.lower() in (
            "content-type", "docker-content-digest", "docker-distribution-api-version")])

    def upstream(self, path, accept=None):
        request = urllib.request.Request("http://%s%s" % (options.upstream, path))
        if accept:
            request.add_header("Accept", accept)
        try:
            with urllib.request.urlopen(request) as answer:
                return answer.status, answer.read(), answer.getheaders()
        except urllib.error.HTTPError as error:
            return error.code, error.read(), error.headers.items()


host, port = options.listen.rsplit(":", 1)
http.server.ThreadingHTTPServer((host, int(port)), Handler).serve_forever()
