-- Tests of lib/template.lua: the names `init` accepts and the files of a new project.
local t = require("testing")
local packages = require("packages")
local project = require("project")
local template = require("template")
local toml = require("toml")

local values = {name = "my-app", module = "my_app", image = "my-app", reference = "team/my-app", parent = "team/py3"}

-- The files as a map from path to text.
local function by_path(files)
  local map = {}
  for _, file in ipairs(files) do map[file.path] = file.text end
  return map
end

t.test("a project name gives its import name", function()
  t.equal(template.module_name("my-app"), "my_app")
  t.equal(template.module_name("a.b-c_d2"), "a_b_c_d2")
  t.equal(template.module_name(string.rep("a", 64)), string.rep("a", 64))
end)

t.test("invalid project names are refused with the rule", function()
  for _, name in ipairs({"My-App", "1app", "app-", "a--b", "a._b", "-app", "", "app name", string.rep("a", 65)}) do
    local module, problem = template.module_name(name)
    t.equal(module, nil, name)
    t.equal(problem, "'" .. name .. "' is not a valid project name: " .. template.rule, name)
  end
  t.equal(select(2, template.module_name("import")),
    "'import' is not a valid project name: its import name import is a Python keyword")
  t.equal(select(2, template.module_name("class")), "'class' is not a valid project name: its import name class is a Python keyword")
end)

t.test("an application's files, every placeholder filled", function()
  local files = template.files(values)
  local paths = {}
  for index, file in ipairs(files) do
    paths[index] = file.path
    t.equal(file.text:find("{{", 1, true), nil, file.path)
  end
  t.equal(paths, {"pyproject.toml", "README.md", "src/my_app/__init__.py", "tests/test_my_app.py", "docker/Dockerfile",
    ".gitignore", ".dockerignore"})
  local map = by_path(files)
  t.equal(assert(toml.parse(map["pyproject.toml"])).project.name, "my-app")
  t.equal(project.read_dockerfile(map["docker/Dockerfile"]).parent, "team/py3")
  t.contains(map["tests/test_my_app.py"], "import my_app\n")
end)

t.test("a package's files: no Dockerfile, the parent in [tool.dstack]", function()
  local map = by_path(template.files(values, true))
  t.equal(map["docker/Dockerfile"], nil)
  local data = assert(toml.parse(map["pyproject.toml"]))
  t.equal(data.project.name, "my-app")
  t.equal(data.tool.dstack, {parent = "team/py3"})
end)

t.test("a new project is what build and release expect: its tests run, its sources are hidden", function()
  for _, package in ipairs({false, true}) do
    local files = {}
    for _, file in ipairs(template.files(values, package)) do files[file.path] = file.text end
    local root = t.scratch(files)
    t.equal(select(2, packages.find(root)), package and "package" or "application")
    t.equal(project.default_tests(root), {"python3", "-m", "pytest", "-p", "no:cacheprovider"}, "its pytest settings")
    t.equal(project.python_sources(root), {"src"})
  end
end)

t.test("an unknown placeholder is an error, not an empty string", function()
  t.raises(function() template.files({name = "x"}) end, "template: no value for")
end)

return t.run()
