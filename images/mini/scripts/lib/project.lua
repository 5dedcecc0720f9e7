-- project: what the build script knows about a project folder.
local docker = require("docker")
local trust = require("trust")

local M = {}

-- The folder at or above `start` that holds docker/Dockerfile, or nil. Only folders and
-- files that count are looked at (see lib/trust.lua).
function M.find_root(start)
  return (trust.walk_up(start, function(folder)
    if trust.counts(dstack.fs.join(folder, "docker", "Dockerfile")) then return folder end
  end))
end

-- The settings in a Dockerfile: the default of `ARG PARENT=…` and `# dstack: key=value` comments.
function M.read_dockerfile(text)
  local settings = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    local key, value = line:match("^%s*#%s*dstack:%s*([%w_-]+)%s*=%s*(.-)%s*$")
    if key then settings[key] = value end
    local parent = line:match("^%s*[Aa][Rr][Gg]%s+PARENT%s*=%s*(%S+)")
    if parent and not settings.parent then settings.parent = parent:gsub('^"(.*)"$', "%1") end
  end
  return settings
end

-- The settings of the project at `root` (see `read_dockerfile`).
function M.settings(root)
  return M.read_dockerfile(assert(dstack.fs.read(dstack.fs.join(root, "docker", "Dockerfile"))))
end

-- The image repository the project at `root` builds: NAMESPACE/NAME, with the name and
-- namespace given (`--name`, `--namespace`), else from the settings, $DSTACK_NAMESPACE
-- and the folder's name. Returns nil and a message when no valid name can be made.
function M.repository(root, settings, name, namespace)
  name = name or settings.name or M.reference_name(dstack.fs.basename(root))
  if not name or name == "" then
    return nil, "cannot make an image name from the folder '" .. dstack.fs.basename(root) .. "'; pass --name NAME"
  end
  namespace = namespace or dstack.env.get("DSTACK_NAMESPACE") or settings.namespace
  return namespace and namespace ~= "" and (namespace:gsub("/+$", "") .. "/" .. name) or name
end

-- The entries of the project at `root` that its tests must not see, sorted: its Python
-- sources (`src/`, top-level packages, modules other than conftest.py), what building
-- them leaves (`build/`, `dist/`, `*.egg-info`) and `.git`. Without them, `import NAME`
-- finds the package installed in the image, not the source beside the tests. A test
-- folder (`tests/`, `test/`, `testing/`) stays, also when it is a package (`__init__.py`).
-- `build` and `release` both hide what this returns.
function M.python_sources(root)
  local fs = dstack.fs
  local hidden = {}
  for _, entry in ipairs(assert(fs.list(root))) do
    local path = fs.join(root, entry)
    local test_folder = entry == "tests" or entry == "test" or entry == "testing"
    if entry == "src" or entry == ".git" or entry == "dist" or entry == "build" or entry:match("%.egg%-info$")
      or (not test_folder and fs.is_dir(path) and fs.exists(fs.join(path, "__init__.py")))
      or (entry:match("%.py$") and entry ~= "conftest.py") then
      hidden[#hidden + 1] = entry
    end
  end
  return hidden
end

-- The `docker run` options that show the project at `root` to its tests, read-only at
-- /dstack/project, without its Python sources (`python_sources`).
function M.test_mounts(root)
  local fs = dstack.fs
  local hidden = {}
  for _, entry in ipairs(M.python_sources(root)) do hidden[entry] = true end
  local mounts = {}
  for _, entry in ipairs(assert(fs.list(root))) do
    local path = fs.join(root, entry)
    if not hidden[entry] and M.inside(root, path) then
      mounts[#mounts + 1] = "--volume=" .. path .. ":/dstack/project/" .. entry .. ":ro"
    end
  end
  return mounts
end

-- Runs `git -C root ARGS...`: its output without trailing white space, or nil and why
-- not (git's last line of error output, or that git cannot be started).
function M.git(root, ...)
  local result, problem = dstack.proc.run({"git", "-C", root, ...})
  if not result then return nil, problem end
  if result.code ~= 0 then return nil, (result.stderr:gsub("%s+$", ""):match("[^\n]*$")) end
  return (result.stdout:gsub("%s+$", ""))
end

-- True when `path` (in the project at `root`), with its links resolved, is inside the
-- project: docker follows links in a mount's source, so a link out of the project (to
-- /etc, say) is not mounted, and is named in a warning.
function M.inside(root, path)
  local fs = dstack.fs
  local real_root = assert(fs.realpath(root))
  local real = fs.realpath(path)
  if real and (real == real_root or real:sub(1, #real_root + 1) == real_root .. "/") then return true end
  dstack.log.warn("not showing " .. path .. " to the tests: it is a link to " .. (real or "nothing")
    .. ", outside the project")
  return false
end

-- `text` made a valid image name: lower case, runs of other characters become one '-',
-- no separator at either end.
function M.reference_name(text)
  local name = text:lower():gsub("[^a-z0-9._-]+", "-"):gsub("[._-][._-]+", "-")
  return (name:gsub("^[._-]+", ""):gsub("[._-]+$", ""))
end

-- Words separated by spaces (no shell: quotes and $ have no meaning).
function M.split_words(text)
  local words = {}
  for word in text:gmatch("%S+") do words[#words + 1] = word end
  return words
end

-- Where a project configures pytest: the file and the section pytest reads there (its own
-- rule; an empty section means the whole file).
local pytest_settings = {
  {"pytest.ini", ""}, {".pytest.ini", ""}, {"pyproject.toml", "[tool.pytest.ini_options]"},
  {"tox.ini", "[pytest]"}, {"setup.cfg", "[tool:pytest]"},
}

-- The tests of a Python project when it names none: pytest as the project configures it
-- (`testpaths`, `addopts`, … in one of pytest's own files), else pytest on its tests/
-- folder; nil when it has neither (no tests). The cache plugin is off: the project is
-- read-only in the test container.
function M.default_tests(root)
  local fs = dstack.fs
  local python = fs.exists(fs.join(root, "pyproject.toml")) or fs.exists(fs.join(root, "setup.py"))
    or fs.exists(fs.join(root, "setup.cfg"))
  if not python then return nil end
  local pytest = {"python3", "-m", "pytest", "-p", "no:cacheprovider"}
  for _, setting in ipairs(pytest_settings) do
    local text = fs.read(fs.join(root, setting[1]))
    if text and (setting[2] == "" or ("\n" .. text):find("\n%s*" .. setting[2]:gsub("%p", "%%%0"))) then
      return pytest
    end
  end
  if fs.is_dir(fs.join(root, "tests")) then
    pytest[#pytest + 1] = "tests"
    return pytest
  end
end

-- The commit the work tree at `root` is on, with `-dirty` when anything differs from it
-- (untracked files too), from one `git status`; nil outside git or before the first commit.
function M.revision(root)
  local status = M.git(root, "status", "--porcelain=v2", "--branch")
  local commit = status and status:match("# branch%.oid (%x+)")
  if not commit then return nil end
  for line in status:gmatch("[^\n]+") do
    if line:sub(1, 1) ~= "#" then return commit .. "-dirty" end
  end
  return commit
end

-- True when `command` (a word list) runs pytest and its exit `status` says it collected no
-- tests (5): a configuration that points at no tests, which is not a pass.
function M.collected_no_tests(status, command)
  local program = (command[1] or ""):match("[^/]*$")
  local pytest = program == "pytest" or program:match("^python[%d.]*$") and command[2] == "-m" and command[3] == "pytest"
  return status == 5 and pytest and true or false
end

-- The label of the uid whose build an image is.
M.builder_label = docker.builder_label

-- Removes local versions of `repository` beyond the newest `keep`, never `current`, never
-- one a container uses, and never another user's build (an engine teammates share).
function M.remove_old_versions(repository, keep, current)
  local images = assert(docker.images(repository))
  local others = {}
  for index = #images, 1, -1 do
    if docker.built_by_another(dstack.docker.inspect_image(repository .. ":" .. images[index].tag)) then
      others[#others + 1] = images[index].tag
      table.remove(images, index)
    end
  end
  if #others > 0 then
    dstack.log.info("keeping " .. #others .. " version(s) of " .. repository .. " that other users built")
  end
  local versions = {}
  for _, image in ipairs(images) do
    if image.repository == repository and dstack.version.parse(image.tag) then versions[#versions + 1] = image.tag end
  end
  table.sort(versions, function(a, b) return dstack.version.compare(a, b) > 0 end)
  for index, tag in ipairs(versions) do
    if index > keep and tag ~= current then
      local reference = repository .. ":" .. tag
      local users = assert(docker.containers{filters = {ancestor = reference}})
      if #users > 0 then
        dstack.log.info("keeping " .. reference .. ": container " .. users[1].names .. " uses it")
      else
        -- The images `run` derived from this version for host users go with it (when no
        -- other tag keeps the version).
        local inspected = dstack.docker.inspect_image(reference)
        if inspected and #(inspected.RepoTags or {}) <= 1 then
          for _, derived in ipairs(docker.derived_images(inspected.Id)) do
            local gone, why = docker.rmi(derived)
            if not gone then dstack.log.warn("could not remove " .. derived .. ": " .. why) end
          end
        end
        local removed, problem = docker.rmi(reference)
        if removed then
          dstack.log.info("removed " .. reference)
        else
          dstack.log.warn("could not remove " .. reference .. ": " .. problem)
        end
      end
    end
  end
end

-- The file where the last failed build of `repository` is remembered for this user
-- ($XDG_STATE_HOME/dstack/failed-builds, ~/.local/state by default).
local function failed_build_file(repository)
  local fs = dstack.fs
  local state = dstack.env.get("XDG_STATE_HOME") or fs.join(fs.home(), ".local", "state")
  return fs.join(state, "dstack", "failed-builds", (repository:gsub("[^%w_.-]", "+")) .. ".json")
end

-- Remembers how the build of `repository` from commit `revision` ended: `failed` (the tag
-- it would have had) when it failed, nil when it passed (which forgets a failure), so
-- `release` does not quietly take an older image of a commit whose last build failed.
-- Nothing is written in dry-run or outside git.
function M.record_build(repository, revision, failed)
  local fs = dstack.fs
  if dstack.is_dry_run() or not revision then return end
  local path = failed_build_file(repository)
  if not failed then
    fs.remove(path)
    return
  end
  fs.mkdir(fs.dirname(path))
  fs.write(path, dstack.json.encode{revision = revision, tag = failed, time = os.date("!%Y-%m-%dT%H:%M:%SZ")})
end

-- The last failed build of `repository` that no build has passed since: `{revision, tag,
-- time}` (time as org.opencontainers.image.created is written), or nil.
function M.failed_build(repository)
  local fs = dstack.fs
  local text = fs.read(failed_build_file(repository))
  local record = text and dstack.json.decode(text)
  if type(record) == "table" and type(record.revision) == "string" and type(record.time) == "string" then
    return record
  end
end

return M
