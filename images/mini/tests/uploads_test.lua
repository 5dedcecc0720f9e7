-- Tests of lib/uploads.lua: where a release goes, and how twine's and the index's answers
-- are told to the user.
local t = require("testing")
local uploads = require("uploads")

t.test("the index of an upload URL: PyPI's and TestPyPI's by name, others beside the upload path", function()
  t.equal(uploads.index_for("https://upload.pypi.org/legacy/"), "https://pypi.org/simple/")
  t.equal(uploads.index_for("https://test.pypi.org/legacy/"), "https://test.pypi.org/simple/")
  t.equal(uploads.index_for("http://127.0.0.1:8080/"), "http://127.0.0.1:8080/simple/")
  t.equal(uploads.index_for("https://pkgs.example.com/repo/legacy//"), "https://pkgs.example.com/repo/simple/")
end)

t.test("two URLs name the same server when scheme, host and port agree (default ports filled in)", function()
  t.equal(uploads.origin("https://Example.com/simple/"), "https://example.com:443")
  t.equal(uploads.origin("http://user:pw@example.com:8080/x"), "http://example.com:8080")
  t.equal(uploads.origin("http://example.com/a") == uploads.origin("http://example.com:80/b"), true)
  t.equal(uploads.origin("not a url"), "not a url")
end)

t.test("loopback: localhost, 127.0.0.0/8 as four numbers, ::1; nothing that only starts like one", function()
  for _, host in ipairs({"localhost", "127.0.0.1", "127.1.2.3", "127.255.255.255", "::1"}) do
    t.equal(uploads.is_loopback(host), true, host)
  end
  for _, host in ipairs({"0.0.0.0", "127.0.0.1.example.com", "127.1", "127.0.0.256", "127.0.0.0001", "localhost.example",
    "[::1]", "128.0.0.1", ""}) do
    t.equal(uploads.is_loopback(host), false, host)
  end
end)

t.test("a loopback URL's containers share the host's network; --network wins", function()
  t.equal(uploads.network_for("http://127.0.0.1:8080/"), {"--network=host"})
  t.equal(uploads.network_for("http://localhost/"), {"--network=host"})
  t.equal(uploads.network_for("http://[::1]:8080/"), {"--network=host"})
  t.equal(uploads.network_for("http://user:pw@127.0.0.1:8080/simple/"), {"--network=host"})
  t.equal(uploads.network_for("http://127.0.0.1.example.com/"), {})
  t.equal(uploads.network_for("https://upload.pypi.org/legacy/"), {})
  t.equal(uploads.network_for("http://127.0.0.1:8080/", "pypi-net"), {"--network=pypi-net"})
end)

t.test("a reason is twine's ERROR line, else the last line, without colours", function()
  t.equal(uploads.reason("Uploading a.whl\n\27[31mERROR\27[0m    HTTPError: 403 Forbidden\nmore\n"),
    "ERROR    HTTPError: 403 Forbidden")
  t.equal(uploads.reason("first\n  last line  \n\n"), "last line")
  t.equal(uploads.reason(""), "no output")
end)

t.test("a failed upload names what reached the index and the command for the rest", function()
  local files = {"p-1.0-py3-none-any.whl", "p-1.0.tar.gz"}
  t.equal(uploads.failure("http://i/", files, "Uploading p-1.0-py3-none-any.whl\nERROR HTTPError: 401\n"),
    "the upload to http://i/ failed on p-1.0-py3-none-any.whl: ERROR HTTPError: 401; nothing reached the index; "
      .. "dist/ holds p-1.0-py3-none-any.whl, p-1.0.tar.gz")
  t.equal(uploads.failure("http://i/", files,
    "Uploading p-1.0-py3-none-any.whl\nUploading p-1.0.tar.gz\nERROR HTTPError: 500\n"),
    "the upload to http://i/ failed on p-1.0.tar.gz: ERROR HTTPError: 500; p-1.0-py3-none-any.whl reached the "
      .. "index, the rest did not: once the cause is fixed, upload it with `twine upload --repository-url http://i/ "
      .. "dist/p-1.0.tar.gz`")
end)

return t.run()
