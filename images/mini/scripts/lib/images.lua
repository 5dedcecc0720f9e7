-- images: which image a name means, by one rule for every script (run, shell,
-- find-image and the build's parent):
--
--   1. A name with a tag or digest is used as written when the local engine or its
--      registry has it; a short name (no `/`) is then looked for in each namespace.
--   2. A name without a tag means its newest version (tags YY.MM.DD or YYYYMMDD-HHMMSS):
--      a short name in the local engine, then NAMESPACE/NAME in the local engine and its
--      registry for each namespace, then any local REGISTRY/TEAM/NAME when only one
--      repository of that name exists; a full name in the local engine and its registry.
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
  local root, kind = packages.find(dstack.fs.cwd())
  if kind == "application" then
    add(project.settings(root).namespace)
  elseif kind == "package" then
    local ok, package = pcall(packages.read, root)
    if ok then add(package.settings.namespace) end
  end
  return found
end

-- The newest local version of `repository`, as `repository:TAG`, or nil.
local function newest_local(repository)
  local tags = {}
  for _, entry in ipairs(dstack.docker.local_tags(repository) or {}) do tags[#tags + 1] = entry.tag end
  local newest = dstack.version.newest(tags)
  return newest and (repository .. ":" .. newest)
end

-- The one local repository REGISTRY/…/NAME with versions, for a short `name`; nil when
-- there is none, or nil and a message when there are several.
local function only_local_repository(name)
  local repositories, count = {}, 0
  for _, image in ipairs(docker.images() or {}) do
    if image.repository:match("/([^/]+)$") == name and dstack.version.parse(image.tag) then
      if not repositories[image.repository] then count = count + 1 end
      repositories[image.repository] = true
    end
  end
  if count == 1 then return (next(repositories)) end
  if count > 1 then
    local names = {}
    for repository in pairs(repositories) do names[#names + 1] = repository end
    table.sort(names)
    return nil, name .. " could be any of " .. table.concat(names, ", ") .. "; write the whole name"
  end
end

-- The image `name` means, as a reference (`repo:TAG`, or as written with a tag or
-- digest); nil and a one-line message saying where it was looked for when there is none.
function M.find(name)
  local reference, invalid = dstack.docker.parse_reference(name)
  if not reference then return nil, invalid end
  local short = not reference.repository:find("/", 1, true)
  local namespaces = short and M.namespaces() or {}
  local searched = {}

  if reference.tag or reference.digest then
    local found, problem = docker.newest(name)
    if found then return found end
    searched[#searched + 1] = problem
    for _, namespace in ipairs(namespaces) do
      found, problem = docker.newest(namespace .. "/" .. name)
      if found then return found end
      searched[#searched + 1] = problem
    end
    return nil, table.concat(searched, "; ")
  end

  if short then
    local found = newest_local(name)
    if found then return found end
    local places = {"the local engine"}
    for _, namespace in ipairs(namespaces) do
      local newest, _, registry_problem = docker.newest(namespace .. "/" .. name)
      if newest then return newest end
      places[#places + 1] = namespace .. (registry_problem and (" (" .. registry_problem .. ")") or "")
    end
    local repository, ambiguous = only_local_repository(name)
    if ambiguous then return nil, ambiguous end
    if repository then return newest_local(repository) end
    return nil, "no version of " .. name .. " (tags YY.MM.DD or YYYYMMDD-HHMMSS) found in "
      .. table.concat(places, ", ")
  end

  return docker.newest(name)
end

-- What to do when a run's image is not found.
M.advice = "build it with `dstack run-script build`, set DSTACK_NAMESPACE to where it is published, or name a tag"

return M
