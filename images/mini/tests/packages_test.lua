-- Tests of lib/packages.lua: package projects (pyproject.toml, no docker/Dockerfile).
local t = require("testing")
local packages = require("packages")

local fs = dstack.fs

t.test("the nearest project above a folder, and its kind", function()
  local root = t.scratch{
    ["pyproject.toml"] = "", ["src/pkg/"] = "", ["app/docker/Dockerfile"] = "", ["app/src/"] = "",
    ["legacy/setup.cfg"] = "", ["older/setup.py"] = "",
  }
  t.equal({packages.find(fs.join(root, "src", "pkg"))}, {root, "package"})
  t.equal({packages.find(fs.join(root, "app", "src"))}, {fs.join(root, "app"), "application"})
  t.equal({packages.find(fs.join(root, "legacy"))}, {fs.join(root, "legacy"), "package"})
  t.equal({packages.find(fs.join(root, "older"))}, {fs.join(root, "older"), "package"})
  local none, problem = packages.find(t.scratch{["empty/"] = ""})
  t.equal(none, nil)
  t.contains(problem, "no project in ")
  t.contains(problem, "create one with `dstack run-script init NAME` or `init --package NAME`")
end)

t.test("names as PEP 503 and wheel file names write them", function()
  t.equal(packages.normalise("My._Package--Name"), "my-package-name")
  t.equal(packages.file_name("My._Package--Name"), "my_package_name")
end)

t.test("what pyproject.toml declares, and whether it says it all", function()
  local root = t.scratch{["pyproject.toml"] = [[
[project]
name = "My.Package"
dynamic = ["version"]
optional-dependencies = {web = ["flask"], cli = ["click"]}

[tool.dstack]
parent = "team/py3"
test-options = "--shm-size=1g"
]]}
  local package = packages.read(root)
  t.equal({package.name, package.version, package.dynamic, package.extras, package.settings, package.path, package.static},
    {"My.Package", nil, {version = true}, {"cli", "web"}, {parent = "team/py3", ["test-options"] = "--shm-size=1g"},
      fs.join(root, "pyproject.toml"), false})
  local plain = packages.read(t.scratch{["pyproject.toml"] = '[project]\nname = "p"\nversion = "1.0"\n'})
  t.equal({plain.version, plain.extras, plain.static}, {"1.0", {}, true})
  local legacy = t.scratch{["setup.cfg"] = "[metadata]\nname = p\n"}
  t.equal({packages.read(legacy).name, packages.read(legacy).path, packages.read(legacy).static},
    {nil, fs.join(legacy, "setup.cfg"), false})
end)

t.test("how a new version is made: in the file, from git tags, or by the backend", function()
  t.equal(packages.version_source("/p/pyproject.toml", "1.0", {}), "raise the version in /p/pyproject.toml")
  t.contains(packages.version_source("/p/pyproject.toml", nil, {requires = {"setuptools>=64", "setuptools-scm>=8"}}),
    "the version comes from the git tags (setuptools-scm): tag a new version")
  t.contains(packages.version_source("/p/setup.py", nil, {}), "the version is computed by the build backend (setuptools)")
end)

t.test("a pyproject.toml that cannot be used is refused with the file and line", function()
  local function problem(text)
    local root = t.scratch{["pyproject.toml"] = text}
    return t.raises(function() packages.read(root) end, fs.join(root, "pyproject.toml"))
  end
  t.contains(problem('[project]\nname = "a"\nname = "b"\n'), ", line 3: the key name is defined twice (not valid TOML); fix it")
  t.contains(problem('[project]\nname = "a"\n[tool.dstack]\nversion = 1\n'), ": [tool.dstack] version must be a string")
  t.contains(problem('[project]\nversion = "1"\n'), ": no [project] name; a package declares")
  -- A name with a terminal escape is refused, and shown escaped.
  local escaped = problem('[project]\nname = "a\\u001b[31mred"\n')
  t.contains(escaped, "\"a\\27[31mred\" is not a valid package name")
  t.equal(escaped:find("\27", 1, true), nil, "no escape character reaches the terminal")
end)

t.test("what pyproject.toml does not say, the build backend says (its answer recorded)", function()
  local root = t.scratch{["setup.cfg"] = "[metadata]\nname = p\n"}
  local asked
  t.stub(dstack.docker, "change", function(args)
    asked = args
    return {code = 0, stderr = "", stdout = '{"name": "p", "version": "1.2.dev3", "requires_dist": ["requests>=2", '
      .. '"pytest; extra == \\"test\\""], "provides_extra": ["test", "docs"]}'}
  end)
  local package = packages.complete(packages.read(root), root, "team/py3:26.11.29")
  t.equal({asked[1], asked[3], asked[5]}, {"run", "--volume=" .. root .. ":/dstack/project:ro", "team/py3:26.11.29"})
  t.equal({package.name, package.version, package.computed, package.extras, package.requires},
    {"p", "1.2.dev3", true, {"docs", "test"}, {"requests>=2", 'pytest; extra == "test"'}})
  t.stub(dstack.docker, "change", function()
    return {code = 1, stdout = "", stderr = "Traceback\n  File \"setup.py\", line 3\nerror: invalid command 'dist_info'\n"}
  end)
  local shown = {}
  t.stub(dstack.log, "error", function(text) shown[#shown + 1] = text end)
  t.raises(function() packages.complete(packages.read(root), root, "team/py3:26.11.29") end,
    "the build backend of " .. root .. " could not say the package's name and version (exit 1: error: invalid "
      .. "command 'dist_info'; its error output is above)")
  -- The cause is above the last line: shown, whole.
  t.equal(shown, {"the step's error output:\n  Traceback\n    File \"setup.py\", line 3"})
end)

t.test("the default parent is the namespace's py3, computed in one place", function()
  t.environment({})
  t.equal(packages.default_parent(), "py3")
  t.environment({DSTACK_NAMESPACE = "registry.example.com/team//"})
  t.equal(packages.default_parent(), "registry.example.com/team/py3")
end)

t.test("the development image's build context: pyproject.toml, the backend's metadata, the installer, the Dockerfile", function()
  local root = t.scratch{["pyproject.toml"] = '[project]\nname = "p"\nversion = "1"\n', ["src/p/__init__.py"] = ""}
  local folder, dockerfile, text = packages.write_context(root, packages.read(root))
  t.equal(fs.list(folder), {"Dockerfile", "install-dependencies", "metadata.json", "pyproject.toml"})
  t.equal(dockerfile, fs.join(folder, "Dockerfile"))
  t.equal(fs.read(dockerfile), text)
  t.equal(fs.read(fs.join(folder, "pyproject.toml")), '[project]\nname = "p"\nversion = "1"\n')
  t.equal(fs.read(fs.join(folder, "metadata.json")), "{}")
  t.contains(text, "ARG PARENT\nFROM ${PARENT}\n")
  local computed = {name = "p", requires = {"requests>=2"}, extras = {}}
  folder = packages.write_context(t.scratch{["setup.py"] = ""}, computed)
  t.equal(dstack.json.decode(fs.read(fs.join(folder, "metadata.json"))), {name = "p", requires_dist = {"requests>=2"},
    provides_extra = {}})
  t.equal(fs.read(fs.join(folder, "pyproject.toml")), "")
end)

t.test("a package's tests see the whole project, with its source on PYTHONPATH", function()
  local src = t.scratch{["src/p/__init__.py"] = "", ["tests/test_p.py"] = ""}
  t.equal(packages.test_options(src), {"--volume=" .. src .. ":/dstack/project:ro", "--env=PYTHONPATH=/dstack/project/src"})
  local flat = t.scratch{["p/__init__.py"] = "", ["tests/__init__.py"] = ""}
  t.equal(packages.test_options(flat), {"--volume=" .. flat .. ":/dstack/project:ro", "--env=PYTHONPATH=/dstack/project"})
end)

t.test("a version from git, as setuptools-scm makes it: the tag, past it, dirty, before any tag", function()
  local scm = {requires = {"setuptools>=64", "setuptools-scm>=8"}}
  local root = t.scratch{["pyproject.toml"] = "[project]\nname = \"p\"\ndynamic = [\"version\"]\n", ["a.py"] = "1\n"}
  local function git(...)
    local result = dstack.proc.run({"git", "-C", root, "-c", "user.name=t", "-c", "user.email=t@example.com", ...})
    assert(result.code == 0, result.stderr)
    return result.stdout:gsub("%s+$", "")
  end
  git("init", "--quiet")
  git("add", ".")
  git("commit", "--quiet", "-m", "one")
  local short = git("rev-parse", "--short", "HEAD")
  t.equal({packages.git_version(root, scm)}, {"0.1.dev1+g" .. short, "from git: no tag yet, 1 commit(s)"})
  t.equal(packages.git_version(root, {requires = {"setuptools"}}), nil, "not a backend that reads git")
  git("tag", "v1.5.0")
  t.equal({packages.git_version(root, {requires = {"hatchling", "hatch-vcs"}})}, {"1.5.0", "from git: the tag v1.5.0"})
  dstack.fs.write(root .. "/a.py", "2\n")
  git("commit", "--quiet", "-am", "two")
  short = git("rev-parse", "--short", "HEAD")
  t.equal({packages.git_version(root, scm)}, {"1.5.1.dev1+g" .. short, "from git: 1 commit(s) past the tag v1.5.0"})
  dstack.fs.write(root .. "/a.py", "3\n")
  t.equal(packages.git_version(root, scm), "1.5.1.dev1+g" .. short .. ".d" .. os.date("!%Y%m%d"))
end)

t.test("the variable each backend that reads git takes a version from", function()
  local pdm = {requires = {"pdm-backend"}}
  t.equal(packages.version_variable({requires = {"setuptools", "setuptools_scm[toml]"}}), "SETUPTOOLS_SCM_PRETEND_VERSION")
  t.equal(packages.version_variable({requires = {"hatchling", "hatch-vcs"}}), "SETUPTOOLS_SCM_PRETEND_VERSION")
  t.equal(packages.version_variable(pdm, {pdm = {version = {source = "scm"}}}), "PDM_BUILD_SCM_VERSION")
  t.equal(packages.version_variable(pdm, {pdm = {version = {source = "file", path = "v.py"}}}), nil)
  t.equal(packages.version_variable(pdm, nil), nil)
  t.equal(packages.version_variable({requires = {"flit_core"}}), nil)
end)

t.test("the version file a backend writes is written for the tests on the source, by its template", function()
  local root = t.scratch{["src/app/__init__.py"] = "", ["pyproject.toml"] = ""}
  local pdm = packages.version_file(root, {pdm = {version = {source = "scm", write_to = "app/v.py",
    write_template = "__version__ = \"{}\"\n"}}})
  t.equal(pdm, {path = "src/app/v.py", template = "__version__ = \"{version}\"\n"})
  packages.write_version_file(root, {version_file = pdm, git_version = "1.2.0"})
  t.equal(dstack.fs.read(root .. "/src/app/v.py"), "__version__ = \"1.2.0\"\n")
  local scm = packages.version_file(root, {setuptools_scm = {version_file = "src/app/_version.py"}})
  packages.write_version_file(root, {version_file = scm, git_version = "1.2.1.dev3+gabc1234"})
  t.equal(dstack.fs.read(root .. "/src/app/_version.py"), "__version__ = version = '1.2.1.dev3+gabc1234'\n"
    .. "__version_tuple__ = version_tuple = (1, 2, 1, 'dev3', 'gabc1234')\n")
  t.equal(packages.version_file(root, {hatch = {build = {hooks = {vcs = {["version-file"] = "v.py"}}}}}).path, "v.py")
  t.equal(packages.version_file(root, {pdm = {version = {source = "file", path = "v.py"}}}), nil)
  local outside = {path = "../v.py", template = "{version}"}
  packages.write_version_file(root .. "/src", {version_file = outside, git_version = "1.0"})
  t.equal(dstack.fs.exists(root .. "/v.py"), false, "not outside the project")
end)

t.test("upload settings are twine's reading of .pypirc, in a container that keeps nothing", function()
  local folder = t.scratch{pypirc = "[distutils]\nindex-servers =\n    local\n[local]\nrepository = http://127.0.0.1:8080/\n"
    .. "username = uploader\npassword = s3cret\n"}
  local config = dstack.fs.join(folder, "pypirc")
  local asked, given
  local answer = '{"repository": "http://127.0.0.1:8080/", "username": "uploader", "password": "s3cret"}'
  t.stub(dstack.docker, "change", function(args, options)
    asked, given = args, options
    return {code = 0, stderr = "", stdout = answer}
  end)
  t.equal(packages.upload_settings("team/p:1", "1000:1000", "local", nil, config),
    {url = "http://127.0.0.1:8080/", username = "uploader", password = "s3cret"})
  t.equal({table.unpack(asked, 1, 9)}, {"run", "--rm", "--interactive", "--network=none", "--log-driver=none",
    "--tmpfs=/tmp", "--user=1000:1000", "--env=HOME=/tmp", "--entrypoint=python"})
  t.equal({asked[10], asked[11], asked[13], asked[14], asked[15]}, {"team/p:1", "-c", "local", "", config})
  t.contains(asked[12], "utils.get_repository_from_config(path, name, url)")
  t.equal(given.stdin, assert(dstack.fs.read(config)))
  -- No file: twine's defaults (pypi); a file TWINE_CONFIG_FILE names must be there for a section.
  answer = '{"repository": "https://upload.pypi.org/legacy/", "username": null, "password": null}'
  t.equal(packages.upload_settings("team/p:1", "1000:1000", "pypi", nil, folder .. "/none"),
    {url = "https://upload.pypi.org/legacy/"})
  t.equal(given.stdin, "")
  t.environment{TWINE_CONFIG_FILE = folder .. "/none"}
  t.raises(function() packages.upload_settings("team/p:1", "1000:1000", "pypi", nil, folder .. "/none") end,
    "TWINE_CONFIG_FILE names " .. folder .. "/none, which cannot be read")
  -- A URL given: twine reads no file, so the container gets none; user info in it is the user's.
  answer = '{"repository": "http://127.0.0.1:1/", "username": "ann", "password": "pw"}'
  t.equal(packages.upload_settings("team/p:1", "1000:1000", "pypi", "http://ann:pw@127.0.0.1:1/", config),
    {url = "http://127.0.0.1:1/", username = "ann", password = "pw"})
  t.equal(given.stdin, "")
  -- Twine's refusal, in one line.
  t.stub(dstack.docker, "change", function()
    return {code = 1, stdout = "", stderr = "Missing 'other' section from " .. config .. ". More info: https://packaging.python.org/specifications/pypirc/\n"}
  end)
  t.raises(function() packages.upload_settings("team/p:1", "1000:1000", "other", nil, config) end,
    "twine cannot say where to upload (Missing 'other' section from " .. config .. ". More info: "
      .. "https://packaging.python.org/specifications/pypirc/); fix --repository-url or --repository, or the section in "
      .. config)
end)

t.test("an answer from the development image that the user did not write is refused, not used", function()
  local folder = t.scratch{pypirc = "[distutils]\nindex-servers = local pypi\n[local]\nrepository = http://127.0.0.1:8080/\n"
    .. "password = s3cret\n[pypi]\npassword = pypi-token\n"}
  local config = dstack.fs.join(folder, "pypirc")
  for _, answer in ipairs({
    '{"repository": "https://attacker.example/pypi-token", "username": null, "password": "s3cret"}',
    '{"repository": "http://127.0.0.1:80", "username": null, "password": "s3cret"}',
    '{"repository": "http://127.0.0.1:8080/", "username": null, "password": "s3c"}',
    '{"repository": "http://127.0.0.1:8080/", "username": "someone-else", "password": "s3cret"}',
    '{"repository": "http://127.0.0.1:8080/", "username": null, "password": "not-in-the-file"}',
  }) do
    t.stub(dstack.docker, "change", function() return {code = 0, stderr = "", stdout = answer} end)
    t.raises(function() packages.upload_settings("team/p:1", "1000:1000", "local", nil, config) end,
      "that twine read in team/p:1 is not in " .. config .. ": the image's code (the project's dependencies) may have "
        .. "changed twine; nothing was uploaded", answer)
  end
end)

return t.run()
