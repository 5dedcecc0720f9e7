-- packages: what the build and release scripts know about a package project, one whose
-- product is a wheel (pip-installable) rather than an image.
--
-- A package project is a folder with pyproject.toml and no docker/Dockerfile (an
-- application). Its development image, NAME:YYYYMMDD-HHMMSS, is built from a Dockerfile
-- generated here (on the stack's py3 image): the project's dependencies, every extra, its
-- build requirements and the release tools (build, twine), but not the project itself,
-- whose source the tests and development mode use.
--
--   local packages = require("packages")
--   local root, kind = packages.find(dstack.fs.cwd())   -- kind: "application" or "package"
--   local info = packages.read(root)                    -- {name, version, extras, settings, ...}
local trust = require("trust")

local M = {}

-- The files that make a folder a Python package project, as packaging tools read them.
M.package_files = {"pyproject.toml", "setup.cfg", "setup.py"}

-- The folder at or above `start` that is a project, and its kind: "application" (it holds
-- docker/Dockerfile) or "package" (pyproject.toml, setup.cfg or setup.py, and no
-- docker/Dockerfile). The nearest wins; only folders and files that count are looked at
-- (see lib/trust.lua). Nil and a one-line message when there is none.
function M.find(start)
  local fs = dstack.fs
  local root, kind, why = trust.walk_up(start, function(folder)
    if trust.counts(fs.join(folder, "docker", "Dockerfile")) then return folder, "application" end
    for _, file in ipairs(M.package_files) do
      if trust.counts(fs.join(folder, file)) then return folder, "package" end
    end
  end)
  if root then return root, kind end
  local stopped = kind and " (dstack did not look in " .. kind .. " or above it: " .. why .. ")" or ""
  return nil, "no project in " .. fs.abspath(start) .. " or any folder above it" .. stopped
    .. ": neither docker/Dockerfile (an application, whose product is an image) nor pyproject.toml, setup.cfg or "
    .. "setup.py (a package, whose product is a wheel); run this in a project, or create one with "
    .. "`dstack run-script init NAME` or `init --package NAME`"
end

-- A distribution name normalised as PEP 503 says (runs of -, _ and . become -, lower case).
function M.normalise(name)
  return (name:gsub("[-_.]+", "-"):lower())
end

-- The name in file names of sdists and wheels (PEP 625/427): runs of -, _ and . become _.
function M.file_name(name)
  return (name:gsub("[-_.]+", "_"):lower())
end

-- The data of the pyproject.toml at `path`; raises one line naming the file and the line
-- when it cannot be read or is not valid TOML.
function M.parse_pyproject(path)
  local text, unreadable = dstack.fs.read(path)
  if not text then error("cannot read " .. path .. ": " .. unreadable, 0) end
  -- Required here, not at the top: every run loads this module, and few read a pyproject.toml.
  local data, problem = require("toml").parse(text)
  if not data then error(path .. ", " .. problem .. " (not valid TOML); fix it and run again", 0) end
  return data
end

-- What the package project at `root` declares in its pyproject.toml, read as a fast path:
-- `name` and `version` (nil when absent or dynamic), `dynamic` (set), `extras` (sorted
-- names), `settings` ([tool.dstack], strings: name, namespace, parent, test, test-options),
-- `path` (the file settings come from), and `static`: true when pyproject.toml alone says
-- the name, version, dependencies and extras; otherwise the build backend says them
-- (`M.complete`). Raises one line naming the file and line when pyproject.toml does not parse.
function M.read(root)
  local fs = dstack.fs
  local path = fs.join(root, "pyproject.toml")
  local counts = trust.counts(path)
  local data = counts and M.parse_pyproject(path) or {}
  if not counts then path = fs.exists(fs.join(root, "setup.cfg")) and fs.join(root, "setup.cfg") or fs.join(root, "setup.py") end
  local project = type(data.project) == "table" and data.project or {}
  local dynamic = {}
  for _, field in ipairs(type(project.dynamic) == "table" and project.dynamic or {}) do dynamic[field] = true end
  local extras = {}
  for extra in pairs(type(project["optional-dependencies"]) == "table" and project["optional-dependencies"] or {}) do
    extras[#extras + 1] = extra
  end
  table.sort(extras)
  local settings = {}
  local tool = type(data.tool) == "table" and type(data.tool.dstack) == "table" and data.tool.dstack or {}
  for key, value in pairs(tool) do
    if type(value) ~= "string" then error(path .. ": [tool.dstack] " .. key .. " must be a string", 0) end
    settings[key] = value
  end
  local backend = type(data["build-system"]) == "table" and data["build-system"] or {}
  local name = type(project.name) == "string" and project.name ~= "" and M.checked_name(project.name, path) or nil
  -- PEP 621 requires a name in [project]; without that table only setup.cfg or setup.py can say it.
  local legacy = fs.exists(fs.join(root, "setup.cfg")) or fs.exists(fs.join(root, "setup.py"))
  if not name and (data.project ~= nil or not legacy) then
    error(path .. ": no [project] name; a package declares `name = \"...\"` in its [project] table (PEP 621)"
      .. (data.project == nil and ", or in setup.cfg's [metadata]" or ""), 0)
  end
  local version = not dynamic.version and type(project.version) == "string" and project.version or nil
  local from_git, origin = nil, nil
  local variable = M.version_variable(backend, data.tool)
  if not version then from_git, origin = M.git_version(root, backend, data.tool) end
  return {
    name = name, version = version, dynamic = dynamic, extras = extras, settings = settings, path = path,
    static = name ~= nil and version ~= nil and not dynamic.dependencies and not dynamic["optional-dependencies"],
    version_source = M.version_source(path, version, backend), git_version = from_git, version_origin = origin,
    version_variable = variable, version_file = variable and M.version_file(root, data.tool),
  }
end

-- Build requirements whose backends take the version from the git tags.
local version_from_tags = {"setuptools-scm", "setuptools_scm", "hatch-vcs", "versioningit", "dunamai", "pdm-backend",
  "poetry-dynamic-versioning", "setuptools-git-versioning"}

-- Backends that take the version from git through setuptools-scm, which (hatch-vcs on it
-- too) reads it from SETUPTOOLS_SCM_PRETEND_VERSION where there is no git.
local scm_backends = {"setuptools-scm", "setuptools_scm", "hatch-vcs", "hatch_vcs"}

-- Whether the build requirements of `backend` (the [build-system] table) name one of `tools`.
local function requires_one_of(backend, tools)
  for _, requirement in ipairs(type(backend.requires) == "table" and backend.requires or {}) do
    for _, tool in ipairs(tools) do
      if type(requirement) == "string" and requirement:lower():find(tool, 1, true) == 1 then return true end
    end
  end
  return false
end

-- The environment variable through which the project's build backend (`backend`, the
-- [build-system] table; `tool`, pyproject's [tool] table) takes a version computed
-- elsewhere, where it would read the git tags: setuptools-scm's (hatch-vcs reads it too),
-- or pdm-backend's for `[tool.pdm.version] source = "scm"`; nil for a backend that does
-- not read git.
function M.version_variable(backend, tool)
  if requires_one_of(backend, scm_backends) then return "SETUPTOOLS_SCM_PRETEND_VERSION" end
  local pdm = type(tool) == "table" and type(tool.pdm) == "table" and tool.pdm.version
  if requires_one_of(backend, {"pdm-backend", "pdm_backend"}) and type(pdm) == "table" and pdm.source == "scm" then
    return "PDM_BUILD_SCM_VERSION"
  end
end

-- Runs git in `root`: its trimmed output, or nil.
local function git(root, ...)
  local result = dstack.proc.run({"git", "-C", root, ...})
  if not result or result.code ~= 0 then return nil end
  return (result.stdout:gsub("%s+$", ""))
end

-- The version git gives the project at `root` when its build backend (`backend`, the
-- [build-system] table; `tool`, pyproject's [tool]) takes it from the tags (through
-- setuptools-scm, or pdm-backend's scm source, whose scheme is the same): computed here, where
-- git and the history are (a build container has neither), by setuptools-scm's default
-- scheme: a clean tagged commit is its tag's version; past a tag, or with uncommitted
-- changes, the tag's last number raised, `.devN` (N commits past it) and `+gHASH`
-- (`.dYYYYMMDD` added for uncommitted changes); `0.1.devN+gHASH` before any tag. Returns
-- the version and where it came from, or nil when the backend does not read git or git
-- cannot say.
function M.git_version(root, backend, tool)
  if not M.version_variable(backend, tool) or not git(root, "rev-parse", "--is-inside-work-tree") then return nil end
  local dirty = (git(root, "status", "--porcelain", "--untracked-files=no") or "") ~= ""
  local date = dirty and (".d" .. os.date("!%Y%m%d")) or ""
  local described = git(root, "describe", "--tags", "--long", "--match", "*[0-9]*")
  local tag, distance, hash
  if described then tag, distance, hash = described:match("^(.*)%-(%d+)%-g(%x+)$") end
  if not tag then
    local count, short = git(root, "rev-list", "--count", "HEAD"), git(root, "rev-parse", "--short", "HEAD")
    if not count or not short then return nil end
    return "0.1.dev" .. count .. "+g" .. short .. date, "from git: no tag yet, " .. count .. " commit(s)"
  end
  local release = tag:match("^%D*(%d.*)$")
  if not release then return nil end
  if distance == "0" and not dirty then return release, "from git: the tag " .. tag end
  local head, last = release:match("^(.-)(%d+)$")
  local next_release = head and (head .. (tonumber(last) + 1)) or release
  return next_release .. ".dev" .. distance .. "+g" .. hash .. date, "from git: " .. distance .. " commit(s) past the tag "
    .. tag .. (dirty and ", with uncommitted changes" or "")
end

-- How a new version is made for a project: `version` static in the file at `path`, or
-- computed by the build backend (`backend`, the [build-system] table) from git tags or
-- from where it reads it.
function M.version_source(path, version, backend)
  if version then return "raise the version in " .. path end
  for _, requirement in ipairs(type(backend.requires) == "table" and backend.requires or {}) do
    for _, tool in ipairs(version_from_tags) do
      if type(requirement) == "string" and requirement:lower():find(tool, 1, true) == 1 then
        return "the version comes from the git tags (" .. tool .. "): tag a new version, such as "
          .. "`git tag v1.2.3`, and release again"
      end
    end
  end
  return "the version is computed by the build backend (" .. (type(backend["build-backend"]) == "string"
    and backend["build-backend"] or "setuptools") .. "): raise it where the backend reads it (setup.cfg, setup.py, "
    .. "or the file pyproject.toml's dynamic version names)"
end

-- `name` when it is a valid distribution name (PEP 508: letters, digits, and `.`, `_`, `-`
-- between them); otherwise raises one line naming `where` (the name shown escaped, so no
-- control character reaches the terminal).
function M.checked_name(name, where)
  if not name:match("^[%w]$") and not name:match("^[%w][%w._-]*[%w]$") then
    error(where .. ": " .. string.format("%q", name):gsub("\\\n", "\\n") .. " is not a valid package name (letters, digits, "
      .. "and '.', '_' or '-' between them, as PEP 508 says); fix the name", 0)
  end
  return name
end

-- The text of `name`, a file of lib/packages/ in the mini: the scripts and the Dockerfile this
-- module sends into containers (each says what it does).
function M.text(name)
  return assert(dstack.script_file("lib/packages/" .. name))
end

-- Fills in what `package` (from `M.read`) does not say statically, from the build backend
-- of the project at `root` in a container of `image` (which has Python and pip): `name`,
-- `version`, `extras` and `requires` (the requirement strings, markers and all), and sets
-- `computed` (the version is the backend's, such as setuptools-scm's from a git tag).
-- Raises one line when the backend fails. In a dry run the command is printed and the
-- name is the folder's.
function M.complete(package, root, image)
  if package.static then return package end
  dstack.log.info("asking the build backend of " .. root .. " for its metadata (in " .. image .. ")")
  local run = {"run", "--rm", "--volume=" .. root .. ":/dstack/project:ro"}
  for _, word in ipairs(M.version_options(package)) do run[#run + 1] = word end
  for _, word in ipairs({"--entrypoint=python", image, "-c", M.text("metadata.py")}) do run[#run + 1] = word end
  local result = dstack.docker.change(run)
  if dstack.is_dry_run() then
    package.name = package.name or dstack.fs.basename(root)
    return package
  end
  local metadata = result.code == 0 and dstack.json.decode(result.stdout)
  if type(metadata) ~= "table" or type(metadata.name) ~= "string" then
    local detail = require("docker").failure_detail(result.stderr)
    error("the build backend of " .. root .. " could not say the package's name and version (exit " .. result.code
      .. (detail ~= "" and (": " .. detail) or "") .. "; its error output is above)", 0)
  end
  package.computed = package.version == nil
  package.name, package.version = M.checked_name(metadata.name, root), metadata.version
  package.requires = metadata.requires_dist or {}
  package.extras = metadata.provides_extra or {}
  table.sort(package.extras)
  return package
end

-- The file, relative to the project at `root`, into which the build backend writes the
-- version it takes from git, with its template (`{version}`, `{version_tuple}`), or nil:
-- `[tool.pdm.version] write_to` (below the package folder, `write_template`),
-- `[tool.setuptools_scm] version_file` or `write_to`, `[tool.hatch.build.hooks.vcs]
-- version-file`. A work tree has it only once a build or an editable install wrote it.
function M.version_file(root, tool)
  local function table_at(value, ...)
    for _, key in ipairs({...}) do value = type(value) == "table" and value[key] or nil end
    return type(value) == "table" and value or {}
  end
  local scm_default = "__version__ = version = '{version}'\n__version_tuple__ = version_tuple = {version_tuple}\n"
  local pdm = table_at(tool, "pdm", "version")
  if pdm.source == "scm" and type(pdm.write_to) == "string" then
    local folder = table_at(tool, "pdm", "build")["package-dir"]
    if type(folder) ~= "string" then folder = dstack.fs.is_dir(dstack.fs.join(root, "src")) and "src" or "" end
    local template = type(pdm.write_template) == "string" and pdm.write_template:gsub("{}", "{version}") or "{version}"
    return {path = folder == "" and pdm.write_to or dstack.fs.join(folder, pdm.write_to), template = template}
  end
  local scm = table_at(tool, "setuptools_scm")
  local path = scm.version_file or scm.write_to
  if type(path) == "string" then
    local template = scm.version_file_template or scm.write_to_template
    return {path = path, template = type(template) == "string" and template or scm_default}
  end
  local vcs = table_at(tool, "hatch", "build", "hooks", "vcs")
  if type(vcs["version-file"]) == "string" then
    return {path = vcs["version-file"], template = type(vcs.template) == "string" and vcs.template or scm_default}
  end
end

-- Writes `package`'s version file (M.version_file) in the project at `root` with the version
-- git gives it, as the backend or an editable install would, so its tests can run on the
-- source; nothing when there is none, it already says that version, or its folder is not
-- inside the project.
function M.write_version_file(root, package)
  local file = package.version_file
  if not file or not package.git_version then return end
  local fs = dstack.fs
  local path = fs.join(root, file.path)
  local folder, real_root = fs.realpath(fs.dirname(path)), fs.realpath(root)
  if not folder or not real_root or (folder ~= real_root and folder:sub(1, #real_root + 1) ~= real_root .. "/") then
    dstack.log.warn("the version file " .. file.path .. " is not in a folder inside " .. root .. "; not written")
    return
  end
  local parts = {}
  local release, rest = package.git_version:match("^([%d.]+)(.*)$")
  for number in (release or ""):gmatch("%d+") do parts[#parts + 1] = number end
  for part in (rest or ""):gsub("^[.+]", ""):gmatch("[^.+]+") do parts[#parts + 1] = "'" .. part .. "'" end
  local text = file.template:gsub("{version}", package.git_version)
    :gsub("{version_tuple}", "(" .. table.concat(parts, ", ") .. (#parts == 1 and "," or "") .. ")")
  if fs.read(path) == text or fs.stat(path) and fs.stat(path).type ~= "file" then return end
  assert(fs.write(path, text))
  dstack.log.info("wrote " .. package.git_version .. " into " .. file.path .. ", as the build backend does")
end

-- The docker run options that give a build container the version git gives `package`
-- (`M.git_version`): the variable its backend reads where there is no git, or none.
function M.version_options(package)
  return package.git_version and {"--env=" .. package.version_variable .. "=" .. package.git_version} or {}
end

-- The parent of a development image: the namespace's py3 (its newest version), as `init`'s
-- projects use.
function M.default_parent()
  local namespace = (dstack.env.get("DSTACK_NAMESPACE") or ""):gsub("/+$", "")
  return namespace ~= "" and (namespace .. "/py3") or "py3"
end

-- Where `twine upload` would send a release, and with which credentials, as twine itself
-- reads them: `url` when given (credentials only in its userinfo), else the section `name`
-- of the .pypirc at `config` (twine reads the sections its [distutils] index-servers lists;
-- pypi and testpypi need none). Twine's own reader does it, in a container of `image`: the
-- file's text on its standard input (none when `url` is given: twine does not read it
-- then), its /tmp in memory, no network, no log, as `uid`. The development image holds
-- code the project chose (its dependencies), so its answer is taken only when the user
-- wrote it: every value in the file or in `url`, or the URL twine gives pypi and testpypi
-- without one; so the answer cannot send credentials where the user did not say.
-- Returns {url, username, password} (nil where nothing is said); raises one line when twine
-- refuses the settings, when its answer is not the user's, or when the section is wanted
-- from a `config` that TWINE_CONFIG_FILE names and that cannot be read. A dry run prints
-- the command and returns `url` (or a description) and no credentials.
function M.upload_settings(image, uid, name, url, config)
  local text, unreadable
  if not url then text, unreadable = dstack.fs.read(config) end
  if not text and not url and dstack.env.get("TWINE_CONFIG_FILE") then
    error("TWINE_CONFIG_FILE names " .. config .. ", which cannot be read (" .. unreadable .. "); fix the variable", 0)
  end
  local result = dstack.docker.change({"run", "--rm", "--interactive", "--network=none", "--log-driver=none",
    "--tmpfs=/tmp", "--user=" .. uid, "--env=HOME=/tmp", "--entrypoint=python", image,
    "-c", M.text("upload-settings.py"), name, url or "", config}, {stdin = text or ""})
  if dstack.is_dry_run() then return {url = url or ("the repository of [" .. name .. "] in " .. config)} end
  local settings = result.code == 0 and dstack.json.decode(result.stdout)
  if type(settings) ~= "table" or type(settings.repository) ~= "string" then
    local detail = require("docker").failure_detail(result.stderr)
    error("twine cannot say where to upload (" .. (detail ~= "" and detail or ("exit " .. result.code))
      .. "); fix --repository-url or --repository, or the section in " .. config, 0)
  end
  local function text_or_nil(value) return type(value) == "string" and value or nil end
  local answer = {url = settings.repository, username = text_or_nil(settings.username),
    password = text_or_nil(settings.password)}
  -- What the user wrote: each `key = value` (or `key: value`) line's whole value, the URL
  -- given with and without its user info, and that user info's parts. URLs compare without
  -- case (twine writes the host in lower case).
  local written = {["https://upload.pypi.org/legacy/"] = true, ["https://test.pypi.org/legacy/"] = true}
  for line in (text or ""):gmatch("[^\r\n]+") do
    local value = line:match("^%s*[^%s=:][^=:]-%s*[=:]%s*(.-)%s*$")
    if value then written[value], written[value:lower()] = true, true end
  end
  if url then
    local user, password = url:match("^%a[%w+.-]*://([^:/@]*):?([^/@]*)@")
    for _, value in ipairs({url:lower(), (url:gsub("//[^/@]*@", "//", 1)):lower(), user, password}) do
      written[value] = true
    end
  end
  for _, key in ipairs({"url", "username", "password"}) do
    local value = answer[key]
    if value and not written[key == "url" and value:lower() or value] then
      error("the " .. key .. " that twine read in " .. image .. " is not in " .. (url and "--repository-url" or config)
        .. ": the image's code (the project's dependencies) may have changed twine; nothing was uploaded. "
        .. "Rebuild the development image, or pass TWINE_USERNAME, TWINE_PASSWORD and --repository-url", 0)
    end
  end
  return answer
end

-- The exit status of lib/packages/install-locked.sh when the wheel or what the lock pins
-- cannot be installed.
M.install_failed = 70

-- Writes the build context of the development image of `package` (from `M.read`, and
-- `M.complete` when it is not static) at `root`, with its `lock` (lib/locks.lua; nil for
-- none), into a new temporary folder: lib/packages/Dockerfile, `install-dependencies`, a
-- copy of pyproject.toml (empty when there is none) and metadata.json, nothing else.
-- Returns the folder and the Dockerfile's path and text.
function M.write_context(root, package, lock)
  local fs = dstack.fs
  local folder = fs.tmpdir()
  if lock then assert(fs.write(fs.join(folder, lock.name), assert(fs.read(lock.path)))) end
  local pyproject = fs.join(root, "pyproject.toml")
  assert(fs.write(fs.join(folder, "pyproject.toml"), fs.exists(pyproject) and assert(fs.read(pyproject)) or ""))
  local metadata = package.requires
    and {name = package.name, requires_dist = package.requires, provides_extra = package.extras} or {}
  assert(fs.write(fs.join(folder, "metadata.json"), next(metadata) and dstack.json.encode(metadata) or "{}"))
  assert(fs.write(fs.join(folder, "install-dependencies"), M.text("install-dependencies.py")))
  local dockerfile, text = fs.join(folder, "Dockerfile"), M.text("Dockerfile")
  assert(fs.write(dockerfile, text))
  return folder, dockerfile, text
end

-- The `docker run` options that show the package at `root` to its tests: the whole project,
-- read-only at /dstack/project, with its source on PYTHONPATH (the image does not hold it).
function M.test_options(root)
  local fs = dstack.fs
  local source = fs.is_dir(fs.join(root, "src")) and "/dstack/project/src" or "/dstack/project"
  return {"--volume=" .. root .. ":/dstack/project:ro", "--env=PYTHONPATH=" .. source}
end

return M
