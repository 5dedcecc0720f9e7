-- template: the files of a new Python project (`dstack run-script init`).
--
--   local template = require("template")
--   local module, problem = template.module_name("my-app")   -- "my_app"
--   for _, file in ipairs(template.files{name = …, module = …, image = …, reference = …, parent = …}) do … end
--
-- The files are templates in lib/template/ ({{name}}, {{module}}, {{image}}, {{reference}}
-- and {{parent}} filled in). The project builds on py3 (images/py3 in dstack's repository):
-- its Dockerfile uses py3's `trust-ca-certificates` and `pip-install-dependencies`, and
-- ends as docker-user.
local M = {}

M.rule = "a project name is lower-case letters and digits, with single '-', '_' or '.' between them, "
  .. "starting with a letter (such as my-project); at most 64 characters"

local keywords = {}
for word in ([[False None True and as assert async await break class continue def del elif else
  except finally for from global if import in is lambda nonlocal not or pass raise return try while
  with yield]]):gmatch("%S+") do
  keywords[word] = true
end

-- The import name of project `name` (its '-' and '.' become '_'), or nil and a one-line
-- message with the rule when `name` is not a valid project name.
function M.module_name(name)
  local valid = #name <= 64 and name:match("^[a-z][a-z0-9._-]*$") and not name:match("[._-]$")
    and not name:match("[._-][._-]")
  if not valid then return nil, "'" .. name .. "' is not a valid project name: " .. M.rule end
  local module = name:gsub("[.-]", "_")
  if keywords[module] then
    return nil, "'" .. name .. "' is not a valid project name: its import name " .. module .. " is a Python keyword"
  end
  return module
end

-- The files of each kind of project, in the order `init` writes them: where each goes in
-- the project, and its template in lib/template/. An application builds from its
-- docker/Dockerfile; a package (`init --package`), whose product is a wheel released with
-- `release`, has none: `build` makes its development image from a Dockerfile the mini
-- generates.
local kinds = {
  application = {
    {"pyproject.toml", "application/pyproject.toml"},
    {"README.md", "application/README.md"},
    {"src/{{module}}/__init__.py", "module.py"},
    {"tests/test_{{module}}.py", "test_module.py"},
    {"docker/Dockerfile", "application/Dockerfile"},
    {".gitignore", "gitignore"},
    {".dockerignore", "application/dockerignore"},
  },
  package = {
    {"pyproject.toml", "package/pyproject.toml"},
    {"README.md", "package/README.md"},
    {"src/{{module}}/__init__.py", "module.py"},
    {"tests/test_{{module}}.py", "test_module.py"},
    {".gitignore", "gitignore"},
  },
}

local function fill(text, values)
  return (text:gsub("{{(%w+)}}", function(key)
    return assert(values[key], "template: no value for " .. key)
  end))
end

-- The project's files, `{path, text}` each (paths relative to the project folder), for
-- `values` {name, module, image (the folder's image name), reference (with the namespace), parent};
-- with `package` true, a package's (no docker/Dockerfile).
function M.files(values, package)
  local result = {}
  for _, file in ipairs(kinds[package and "package" or "application"]) do
    local template = assert(dstack.script_file("lib/template/" .. file[2]))
    result[#result + 1] = {path = fill(file[1], values), text = fill(template, values)}
  end
  return result
end

return M
