-- images: which image a name means, by one rule for every script (run, shell,
-- find-image and the build's parent):
--
--   1. A name with a tag or digest is used as written when the local engine or its
--      registry has it; a short name (no `/`) is then looked for in each namespace.
--   2. A name without a tag means its newest version (tags YY.MM.DD or YYYYMMDD-HHMMSS).
--      In a project folder, a short name that is the project's image means the project's
--      own repository (when it has a version). Otherwise a short name means the newest
--      version among NAMESPACE/NAME (local engine and registry) for each namespace, NAME
--      in the local engine and any local REGISTRY/TEAM/NAME; the others found are named
--      in one line. A full name: the local engine and its registry.
--   3. Nothing is ever turned into `:latest`; when nothing is found, the message names
--      every place that was searched (callers add what to do).
--
-- The namespaces are $DSTACK_NAMESPACE, then the current project's: `# dstack: namespace=`
-- in an application's docker/Dockerfile, `[tool.dstack] namespace` in a package's
-- pyproject.toml.
local docker = require("docker")
local packages = require("packages")
local project = require("project")

local M = {}

-- The project in the current folder, as `build` names it: its repository (nil when it
-- has no valid name) and its settings; nothing outside a project.
local function read_current_project(cwd)
  local root, kind = packages.find(cwd)
  if kind == "application" then
    local settings = project.settings(root)
    return project.repository(root, settings), settings
  elseif kind == "package" then
    local ok, package = pcall(packages.read, root)
    if not ok then return nil, {} end
    local settings = package.settings
    return project.repository(root, {name = settings.name or (package.name and project.reference_name(package.name)),
      namespace = settings.namespace}), settings
  end
end

-- `read_current_project`, read once per folder in a run (a run looks at it more than once).
local read_for = {}
local function current_project()
  local cwd = dstack.fs.cwd()
  if not read_for[cwd] then read_for[cwd] = {read_current_project(cwd)} end
  return table.unpack(read_for[cwd], 1, 2)
end

-- The namespaces searched for short names, in order, without duplicates.
function M.namespaces()
  local found, seen = {}, {}
  local function add(namespace)
    namespace = namespace and namespace:gsub("/+$", "")
    if namespace and namespace ~= "" and not seen[namespace] then
      seen[namespace] = true
      found[#found + 1] = namespace
    end
  end
  add(dstack.env.get("DSTACK_NAMESPACE"))
  local _, settings = current_project()
  add(settings and settings.namespace)
  return found
end

-- The newest local version of `repository` (not another user's build), as
-- `repository:TAG`, and the tag; or nil.
-- A version dated after today is named, as docker.newest names one.
local function newest_local(repository)
  local newest = docker.newest_own_local(repository)
  if newest then docker.warn_if_future(repository, newest) end
  return newest and (repository .. ":" .. newest), newest
end

-- Every place a short `name` (no tag) has versions: `{reference, tag, place}` each, newest
-- first (on equal versions: a namespace before the local short name); other local
-- repositories REGISTRY/TEAM/NAME only when neither has one. Also returns the places
-- searched, with a registry's problem where it failed.
function M.candidates(name)
  local found, searched, seen = {}, {}, {}
  local function add(reference, tag, place)
    if reference then
      seen[reference] = true
      found[#found + 1] = {reference = reference, tag = tag, place = place, order = #found}
    end
  end
  for _, namespace in ipairs(M.namespaces()) do
    local repository = namespace .. "/" .. name
    seen[repository] = true
    local newest, tag, registry_problem = docker.newest(repository)
    add(newest, tag, repository)
    searched[#searched + 1] = namespace .. (registry_problem and (" (" .. registry_problem .. ")") or "")
  end
  local local_reference, local_tag = newest_local(name)
  add(local_reference, local_tag, "the local engine")
  table.insert(searched, 1, "the local engine")
  -- Other local repositories (after `build --namespace`), only when nothing else has it:
  -- listing every local image costs more than the rest of a run.
  if #found == 0 then
    for _, image in ipairs(docker.images() or {}) do
      if image.repository:match("/([^/]+)$") == name and not seen[image.repository] then
        seen[image.repository] = true
        local reference, tag = newest_local(image.repository)
        add(reference, tag, "the local engine")
      end
    end
  end
  table.sort(found, function(a, b)
    local order = dstack.version.compare(a.tag, b.tag)
    if order ~= 0 then return order > 0 end
    return a.order < b.order
  end)
  return found, searched
end

-- Says which image `name` means and why: in dry-run for the user, else for --verbose.
local function picked(name, reference, why)
  local say = dstack.is_dry_run() and dstack.log.info or dstack.log.debug
  say(name .. " is " .. reference .. ": " .. why)
  return reference
end

-- The image `name` means, as a reference (`repo:TAG`, or as written with a tag or
-- digest); nil and a one-line message saying where it was looked for when there is none.
-- A short name in a project folder means the project's own image when it has a version;
-- elsewhere the newest of every place (M.candidates), naming the others in one line.
function M.find(name)
  local reference, invalid = dstack.docker.parse_reference(name)
  if not reference then return nil, invalid end
  local short = not reference.repository:find("/", 1, true)

  if reference.tag or reference.digest then
    local searched = {}
    local found, problem = docker.newest(name)
    if found then return found end
    searched[#searched + 1] = problem
    for _, namespace in ipairs(short and M.namespaces() or {}) do
      found, problem = docker.newest(namespace .. "/" .. name)
      if found then return found end
      searched[#searched + 1] = problem
    end
    return nil, table.concat(searched, "; ")
  end

  if not short then
    local found, problem = docker.newest(name)
    if not found then return nil, problem end
    return picked(name, found, "its newest version")
  end

  local own = current_project()
  if own and own:match("([^/]+)$") == name then
    local found = docker.newest(own)
    if found then return picked(name, found, "the newest version of this project's image") end
  end
  local candidates, searched = M.candidates(name)
  local chosen = candidates[1]
  if not chosen then
    return nil, "no version of " .. name .. " (tags YY.MM.DD or YYYYMMDD-HHMMSS) found in "
      .. table.concat(searched, ", ")
  end
  if #candidates > 1 then
    local others = {}
    for index = 2, #candidates do others[#others + 1] = candidates[index].reference end
    dstack.log.info(name .. " is " .. chosen.reference .. ", the newest; also found: " .. table.concat(others, ", ")
      .. " (`dstack find-image --all " .. name .. "` lists them)")
    return chosen.reference
  end
  return picked(name, chosen.reference, "the newest version, in " .. chosen.place)
end

-- The parent a build builds on, and the PARENT build argument dstack passes for it (nil
-- when docker gets it otherwise): `written` (ARG PARENT's default in `where`, or a
-- package's setting) as written when it has a tag or digest, else its newest version by
-- the rule of `M.find`; `given` (--parent) instead, found by the same rule (never as
-- :latest); a `--build-arg PARENT=…` among `docker_options` instead of both, as docker's
-- own. Nil when nothing names one. Raises one line naming the setting when it is not found.
function M.build_parent(written, given, docker_options, where)
  local passed
  for index, word in ipairs(docker_options) do
    passed = (word == "--build-arg" and (docker_options[index + 1] or ""):match("^PARENT=(.+)$"))
      or word:match("^%-%-build%-arg=PARENT=(.+)$") or passed
  end
  if passed then return passed end
  if given then
    local found, problem = M.find(given)
    if not found then error("--parent " .. given .. ": " .. problem .. "; " .. M.advice, 0) end
    return found, found
  end
  if not written then return nil end
  local found, problem = M.find(written)
  if not found then
    local reference = assert(dstack.docker.parse_reference(written))
    local advice = (reference.tag or reference.digest)
      and "build or pull it, or pass --parent REF"
      or ("write the tag to build on (ARG PARENT=" .. written .. ":TAG, or --parent REF), "
        .. "or publish dated versions of it (scripts/publish-images)")
    error("the parent image ARG PARENT=" .. written .. " in " .. where .. ": " .. problem .. "; " .. advice, 0)
  end
  return found, found
end

-- The names of the stack's own images (`images/` in dstack's repository): the parents of
-- every project. A project takes one of them, or its own parent's name, only with `--name`
-- on the build's command line, so a cloned project cannot replace the team's base image.
M.stack_names = {py3 = true, mini = true, dstack = true}

-- What to do when a run's image is not found.
M.advice = "build it with `dstack run-script build`, set DSTACK_NAMESPACE to where it is published, or name a tag"

return M
