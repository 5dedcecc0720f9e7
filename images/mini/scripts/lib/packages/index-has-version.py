# The script that looks for a version of a package on an index (its simple API, PEP 503):
# `python -c SCRIPT INDEX NAME VERSION` exits 3 (and prints the file) when the index has a
# file of that version (and where it was found), 0 when not, 1 when the index cannot be
# asked. It asks anonymously; when the index refuses that (401) and a user name and password
# came as the first two lines of its standard input, it asks again with them. A redirect to
# another server is not followed: the version counts as not there (a fallback index).
import base64, re, sys, urllib.error, urllib.parse, urllib.request
index, name, version = sys.argv[1:4]
user, password = sys.stdin.readline().rstrip("\n"), sys.stdin.readline().rstrip("\n")
url = index.rstrip("/") + "/" + re.sub(r"[-_.]+", "-", name).lower() + "/"
server = urllib.parse.urlsplit(url)[:2]


class SameServer(urllib.request.HTTPRedirectHandler):
    """Follows redirects on the index's own server only: another one (a fallback index) does not count."""

    def redirect_request(self, request, answer, code, message, headers, target):
        if urllib.parse.urlsplit(urllib.parse.urljoin(request.full_url, target))[:2] != server:
            return None
        return super().redirect_request(request, answer, code, message, headers, target)


def fetch(authorization=None):
    request = urllib.request.Request(url)
    if authorization:
        request.add_header("Authorization", authorization)
    with urllib.request.build_opener(SameServer).open(request, timeout=30) as answer:
        return answer.geturl(), answer.read().decode("utf-8", "replace")


try:
    try:
        where, page = fetch()
    except urllib.error.HTTPError as problem:
        if problem.code != 401 or not password:
            raise
        # Anonymous reads refused by the upload's own server: ask with the upload credentials.
        pair = (user or "__token__") + ":" + password
        where, page = fetch("Basic " + base64.b64encode(pair.encode()).decode())
except urllib.error.HTTPError as problem:
    if problem.code == 404:
        sys.exit(0)
    if 300 <= problem.code < 400:
        print(f"{url} redirects to {problem.headers.get('Location')}, another server: not counted as there")
        sys.exit(0)
    sys.exit(f"{url}: HTTP {problem.code} {problem.reason}")
except (urllib.error.URLError, OSError) as problem:
    sys.exit(f"{url}: {getattr(problem, 'reason', problem)}")
stem = (re.sub(r"[-_.]+", "_", name) + "-" + version).lower()
for href in re.findall(r"href=[\"']([^\"']+)", page):
    file = href.split("#")[0].rstrip("/").rsplit("/", 1)[-1].lower()
    if file.startswith(stem + "-") or file in (stem + ".tar.gz", stem + ".zip"):
        print(f"{where} has {file}")
        sys.exit(3)
