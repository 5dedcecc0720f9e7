-- Tests of lib/packages.lua: package projects (pyproject.toml, no docker/Dockerfile).
local t = require("testing")
local packages = require("packages")

local fs = dstack.fs

t.test("the nearest project above a folder, and its kind", function()
  local root = t.scratch{
    ["pyproject.toml"] = "", ["src/pkg/"] = "", ["app/docker/Dockerfile"] = "", ["app/src/"] = "",
  }
  t.equal({packages.find(fs.join(root, "src", "pkg"))}, {root, "package"})
  t.equal({packages.find(fs.join(root, "app", "src"))}, {fs.join(root, "app"), "application"})
  local none, problem = packages.find(t.scratch{["empty/"] = ""})
  t.equal(none, nil)
  t.contains(problem, "no project in ")
  t.contains(problem, "create one with `dstack run-script init NAME` or `init --package NAME`")
end)

t.test("names as PEP 503 and wheel file names write them", function()
  t.equal(packages.normalise("My._Package--Name"), "my-package-name")
  t.equal(packages.file_name("My._Package--Name"), "my_package_name")
end)

t.test("what pyproject.toml declares", function()
  local root = t.scratch{["pyproject.toml"] = [[
[project]
name = "My.Package"
dynamic = ["version"]
optional-dependencies = {web = ["flask"], cli = ["click"]}

[tool.dstack]
parent = "team/py3"
test-options = "--shm-size=1g"
]]}
  t.equal(packages.read(root), {
    name = "My.Package", version = nil, dynamic = {version = true}, extras = {"cli", "web"},
    settings = {parent = "team/py3", ["test-options"] = "--shm-size=1g"}, path = fs.join(root, "pyproject.toml"),
  })
  local plain = t.scratch{["pyproject.toml"] = '[project]\nname = "p"\nversion = "1.0"\n'}
  t.equal(packages.read(plain).version, "1.0")
  t.equal(packages.read(plain).extras, {})
end)

t.test("a pyproject.toml that cannot be used is refused with the file (and line)", function()
  local function problem(text)
    local root = t.scratch{["pyproject.toml"] = text}
    return t.raises(function() packages.read(root) end, fs.join(root, "pyproject.toml"))
  end
  t.contains(problem('[project]\nname = "a"\nname = "b"\n'), ", line 3: the key name is defined twice (not valid TOML); fix it")
  t.contains(problem('[build-system]\nrequires = []\n'), ": no [project] name; a package declares `name = \"...\"`")
  t.contains(problem('[project]\nname = ""\n'), ": no [project] name")
  t.contains(problem('[project]\nname = "a"\n[tool.dstack]\nversion = 1\n'), ": [tool.dstack] version must be a string")
  t.raises(function() packages.read(t.scratch{}) end, "cannot read ")
end)

t.test("the default parent is the namespace's py3, computed in one place", function()
  t.environment({})
  t.equal(packages.default_parent(), "py3")
  t.environment({DSTACK_NAMESPACE = "registry.example.com/team//"})
  t.equal(packages.default_parent(), "registry.example.com/team/py3")
end)

t.test("the development image's build context holds pyproject.toml, the installer and the Dockerfile", function()
  local root = t.scratch{["pyproject.toml"] = '[project]\nname = "p"\n', ["src/p/__init__.py"] = ""}
  local folder, dockerfile, text = packages.write_context(root)
  t.equal(fs.list(folder), {"Dockerfile", "install-dependencies", "pyproject.toml"})
  t.equal(dockerfile, fs.join(folder, "Dockerfile"))
  t.equal(fs.read(dockerfile), text)
  t.equal(fs.read(fs.join(folder, "pyproject.toml")), '[project]\nname = "p"\n')
  t.contains(text, "ARG PARENT\nFROM ${PARENT}\n")
end)

t.test("a package's tests see the whole project, with its source on PYTHONPATH", function()
  local src = t.scratch{["src/p/__init__.py"] = "", ["tests/test_p.py"] = ""}
  t.equal(packages.test_options(src), {"--volume=" .. src .. ":/dstack/project:ro", "--env=PYTHONPATH=/dstack/project/src"})
  local flat = t.scratch{["p/__init__.py"] = "", ["tests/__init__.py"] = ""}
  t.equal(packages.test_options(flat), {"--volume=" .. flat .. ":/dstack/project:ro", "--env=PYTHONPATH=/dstack/project"})
end)

return t.run()
