-- template: the files of a new Python project (`dstack run-script init`).
--
--   local template = require("template")
--   local module, problem = template.module_name("my-app")   -- "my_app"
--   for _, file in ipairs(template.files{name = …, module = …, image = …, reference = …, parent = …}) do … end
--
-- The project builds on py3 (images/py3 in dstack's repository): its Dockerfile uses py3's
-- `trust-ca-certificates` and `pip-install-dependencies`, and ends as docker-user.
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

local files = {}

files["pyproject.toml"] = [=[
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{{name}}"
version = "0.1.0"
description = "{{name}}: what it does, in one line."
readme = "README.md"
requires-python = ">=3.11"
# What the package needs at run time, as pip requirements (such as "requests>=2.31").
# The image installs them in a layer of their own, before the source: changing the
# source does not reinstall them.
dependencies = []

[tool.setuptools.packages.find]
where = ["src"]

[tool.pytest.ini_options]
testpaths = ["tests"]
addopts = "-ra"
]=]

files["src/{{module}}/__init__.py"] = [=[
"""{{name}}: what it does, in one line."""

__version__ = "0.1.0"


def greet(name: str = "world") -> str:
    """Says hello; a first function with a first test (tests/test_{{module}}.py)."""
    return f"Hello, {name}!"
]=]

files["tests/test_{{module}}.py"] = [=[
import {{module}}


def test_greet():
    assert {{module}}.greet("dstack") == "Hello, dstack!"
]=]

files["docker/Dockerfile"] = [=[
# The image of {{name}}. `dstack run-script build` builds it as {{reference}}:YYYYMMDD-HHMMSS
# on the newest version of PARENT and runs the tests in tests/ in it. The build context is
# the project root, for the COPY lines below (.dockerignore keeps the rest out).
# dstack: context=root
ARG PARENT={{parent}}
FROM ${PARENT}

# Extra CA certificates, for pip behind a TLS-intercepting proxy: the build passes the
# ones DSTACK_CA_CERTIFICATES names (without them this does nothing).
USER root
ARG EXTRA_CA_CERTIFICATES=
RUN trust-ca-certificates
USER docker-user

# The dependencies listed in pyproject.toml, in a layer of their own: a change to the
# source does not reinstall them. With a lock beside it (uv.lock, pylock.toml), exactly
# what the lock pins: `dstack run-script build` names it in DSTACK_LOCK.
ARG DSTACK_LOCK=none
COPY --chown=docker-user:docker-user pyproject.toml uv.lock* pylock*.toml /tmp/{{module}}/
RUN pip-install-dependencies /tmp/{{module}}/pyproject.toml

# The package itself (setuptools comes with py3's virtual environment).
COPY --chown=docker-user:docker-user README.md /tmp/{{module}}/
COPY --chown=docker-user:docker-user src/ /tmp/{{module}}/src/
RUN pip install --no-deps --no-build-isolation /tmp/{{module}} && rm -rf /tmp/{{module}}
]=]

files["README.md"] = [=[
# {{name}}

{{name}}: what it does, in one line.

Build the image (the tests in `tests/` run in it) and run it, with dstack:

```sh
dstack run-script build
dstack run-script run {{reference}} python -c "import {{module}}; print({{module}}.greet())"
```

- Dependencies go in `dependencies` in `pyproject.toml`; build again to install them.
- Development mode: with this folder at `~/work/src/{{image}}`, `run` mounts it at `~/src` and
  Python imports `{{module}}` from there, so an edit shows without a rebuild.
- `dstack run-script run {{reference}} notebook` starts JupyterLab at http://127.0.0.1:8888.
]=]

files[".gitignore"] = [=[
__pycache__/
*.py[cod]
*.egg-info/
build/
dist/
.pytest_cache/
.coverage
htmlcov/
.ipynb_checkpoints/
.venv/
]=]

files[".dockerignore"] = [=[
.git
.venv
**/__pycache__
**/*.py[cod]
**/*.egg-info
build
dist
.pytest_cache
.coverage
htmlcov
.ipynb_checkpoints
]=]

-- A package (`init --package`): its product is a wheel, released with `release`; `build`
-- makes its development image from a Dockerfile the mini generates, so it has none.
local package_files = {}

package_files["pyproject.toml"] = [=[
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{{name}}"
version = "0.1.0"
description = "{{name}}: what it does, in one line."
readme = "README.md"
requires-python = ">=3.11"
# What the package needs at run time, as pip requirements (such as "requests>=2.31"). The
# development image installs them, and every extra below, in a layer of their own.
dependencies = []

[project.optional-dependencies]
# What the tests need beyond the dependencies; `release` installs the wheel with every extra.
test = ["pytest"]

[tool.setuptools.packages.find]
where = ["src"]

[tool.pytest.ini_options]
testpaths = ["tests"]
addopts = "-ra"

# dstack's settings: the parent of the development image (its newest version at each build).
[tool.dstack]
parent = "{{parent}}"
]=]

package_files["README.md"] = [=[
# {{name}}

{{name}}: what it does, in one line.

A package: its product is the wheel. With dstack:

```sh
dstack run-script build     # the development image {{reference}}:YYYYMMDD-HHMMSS; the tests run against the source
dstack run-script release   # dist/: sdist and wheel, tested installed in a fresh container, twine check
dstack run-script release --upload --repository-url https://upload.pypi.org/legacy/
```

- Dependencies go in `dependencies` (and extras in `optional-dependencies`) in
  `pyproject.toml`; build again to install them in the development image.
- Development mode: with this folder at `~/work/src/{{image}}`, `dstack run-script run {{reference}}`
  mounts it at `~/src` with `src/` on `PYTHONPATH`, so `import {{module}}` finds the source.
- `release` refuses uncommitted changes (`--allow-dirty`) and a version the index has already.
  Credentials come from `TWINE_USERNAME` and `TWINE_PASSWORD` or `~/.pypirc`.
]=]

package_files[".gitignore"] = files[".gitignore"]
package_files["src/{{module}}/__init__.py"] = files["src/{{module}}/__init__.py"]
package_files["tests/test_{{module}}.py"] = files["tests/test_{{module}}.py"]

local order = {"pyproject.toml", "README.md", "src/{{module}}/__init__.py", "tests/test_{{module}}.py",
  "docker/Dockerfile", ".gitignore", ".dockerignore"}
local package_order = {"pyproject.toml", "README.md", "src/{{module}}/__init__.py", "tests/test_{{module}}.py",
  ".gitignore"}

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
  for _, path in ipairs(package and package_order or order) do
    result[#result + 1] = {path = fill(path, values), text = fill((package and package_files or files)[path], values)}
  end
  return result
end

return M
