-- docker: the docker commands dstack scripts use, built on the host's mechanisms
-- (dstack.docker.change, dstack.docker.query, dstack.registry). Policy lives here, in
-- the mini, so it changes with a new mini tag and never needs a new dstack.
--
--   local docker = require("docker")
--   local ok, message = docker.build{context = ".", tags = {"app:1"}}
--   local image, tag = docker.newest("team/app")
--
-- Functions that change state return true (and more) or nil and a message; in
-- dry-run mode they print the command and return true.
local M = {}

local function check(value, expected, position, name)
  if type(value) ~= expected then
    error(string.format("bad argument #%d to 'docker.%s' (%s expected, got %s)", position, name, expected, type(value)), 3)
  end
end

-- The options table at `position`, refusing names not in `allowed`.
local function options_of(value, allowed, position, name)
  if value == nil then return {} end
  check(value, "table", position, name)
  for key in pairs(value) do
    if not allowed[key] then
      error(string.format("bad argument #%d to 'docker.%s' (unknown option '%s')", position, name, tostring(key)), 3)
    end
  end
  return value
end

local function set(...)
  local result = {}
  for _, word in ipairs({...}) do result[word] = true end
  return result
end

-- Keys of a map in order, so the same options give the same command.
local function sorted_pairs(map)
  local keys = {}
  for key in pairs(map or {}) do keys[#keys + 1] = key end
  table.sort(keys)
  local index = 0
  return function()
    index = index + 1
    local key = keys[index]
    if key ~= nil then return key, map[key] end
  end
end

-- Whether the Dockerfile text `text` declares build argument `name` (`ARG NAME` or
-- `ARG NAME=default`), so a build passes it only to a Dockerfile that takes it.
function M.declares_arg(text, name)
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    if line:match("^%s*[Aa][Rr][Gg]%s+" .. name .. "%f[^%w_]") then return true end
  end
  return false
end

-- The last line of a failed step's error output `stderr`, for its one-line message; the
-- lines before it (up to 40: the cause is usually above the last line) are shown first.
function M.failure_detail(stderr)
  local lines = {}
  for line in (stderr or ""):gsub("%s+$", ""):gmatch("[^\n]+") do lines[#lines + 1] = line end
  if #lines > 1 then
    local shown = {}
    for index = math.max(1, #lines - 40), #lines - 1 do shown[#shown + 1] = "  " .. lines[index] end
    dstack.log.error("the step's error output" .. (#lines > 41 and (" (its last " .. #shown .. " lines)") or "")
      .. ":\n" .. table.concat(shown, "\n"))
  end
  return lines[#lines] or ""
end

-- Runs a captured state change: true, or nil and docker's last line of error output (the
-- lines above it shown).
local function change(args)
  local result = dstack.docker.change(args)
  if result.code == 0 then return true, result end
  local detail = M.failure_detail(result.stderr)
  return nil, string.format("docker %s failed (exit %d)%s", args[1], result.code, detail ~= "" and (": " .. detail) or "")
end

-- A state change whose progress the user watches on standard error.
local function change_with_progress(args)
  local result = dstack.docker.change(args, {progress = true})
  if result.code == 0 then return true end
  return nil, string.format("docker %s failed (exit %d); its output is above", args[1], result.code)
end

local build_options = set("context", "file", "tags", "build_args", "labels", "target", "platform", "no_cache", "args",
  "id_file")

-- The Dockerfile of a build (`options.file`, or the context's) with one LABEL instruction
-- for `options.labels` appended, in a temporary folder: the classic builder runs each
-- --label flag as a step of its own (a container and a commit each), and one instruction is
-- one step, after the Dockerfile's own, so it never invalidates their cache. Nil, and the
-- flags are used, where that cannot be done the same way: a --target stage (the labels
-- belong to it, not to the last stage), a parser directive (`escape`, `syntax`), a value
-- with a line break.
local function labelled_dockerfile(options)
  if not next(options.labels or {}) or options.target then return nil end
  for _, word in ipairs(options.args or {}) do
    if word == "--target" or word:match("^%-%-target=") or word == "-f" or word:match("^%-%-file") then return nil end
  end
  local text = dstack.fs.read(options.file or dstack.fs.join(options.context, "Dockerfile"))
  if not text then return nil end
  for line in text:gmatch("[^\n]*") do
    if line:match("^%s*#%s*[%a_]+%s*=") then return nil end
    if not line:match("^%s*#") then break end
  end
  local pairs_text = {}
  for key, value in sorted_pairs(options.labels) do
    if (key .. value):find("[\r\n]") then return nil end
    local function quoted(word) return '"' .. word:gsub('[\\"$]', "\\%0") .. '"' end
    pairs_text[#pairs_text + 1] = quoted(key) .. "=" .. quoted(value)
  end
  local path = dstack.fs.join(dstack.fs.tmpdir(), "Dockerfile")
  assert(dstack.fs.write(path, text .. "\n# Added by dstack: its labels, in one step.\nLABEL "
    .. table.concat(pairs_text, " ") .. "\n"))
  return path
end

-- Builds an image. Options: `context` (folder, required), `file`, `tags` (list),
-- `build_args` and `labels` (maps), `target`, `platform`, `no_cache` (boolean), `id_file`
-- (where docker writes the new image's ID), `args` (further `docker build` arguments).
-- Progress shows on standard error. The containers of failed steps are removed too
-- (`--force-rm`), so a failed build leaves none behind.
function M.build(options)
  options = options_of(options, build_options, 1, "build")
  if type(options.context) ~= "string" then error("bad argument #1 to 'docker.build' (option 'context' is required)", 2) end
  local args = {"build", "--force-rm"}
  local function add(...) table.move({...}, 1, select("#", ...), #args + 1, args) end
  local labelled = labelled_dockerfile(options)
  if labelled or options.file then add("--file", labelled or options.file) end
  for _, tag in ipairs(options.tags or {}) do add("--tag", tag) end
  for key, value in sorted_pairs(options.build_args) do add("--build-arg", key .. "=" .. value) end
  if not labelled then
    for key, value in sorted_pairs(options.labels) do add("--label", key .. "=" .. value) end
  end
  if options.target then add("--target", options.target) end
  if options.platform then add("--platform", options.platform) end
  if options.no_cache then add("--no-cache") end
  if options.id_file then add("--iidfile", options.id_file) end
  table.move(options.args or {}, 1, #(options.args or {}), #args + 1, args)
  add(options.context)
  return change_with_progress(args)
end

-- Runs a container with the terminal shared and returns its exit status (128 + signal
-- when killed; 0 in dry-run). Options: `image` (required), `command` (list), `options`
-- (list of `docker run` options, placed before the image), `timeout` (seconds: past it,
-- the docker CLI is stopped and nil and a message are returned; the container may live on).
function M.run(options)
  options = options_of(options, set("image", "command", "options", "timeout"), 1, "run")
  if type(options.image) ~= "string" then error("bad argument #1 to 'docker.run' (option 'image' is required)", 2) end
  local args = {"run"}
  table.move(options.options or {}, 1, #(options.options or {}), #args + 1, args)
  args[#args + 1] = options.image
  table.move(options.command or {}, 1, #(options.command or {}), #args + 1, args)
  return dstack.docker.change(args, {terminal = true, timeout = options.timeout})
end

-- Pushes an image; returns true and its registry digest (`sha256:…`; nil in dry-run).
function M.push(reference)
  check(reference, "string", 1, "push")
  local pushed, problem = change_with_progress({"push", reference})
  if not pushed then return nil, problem end
  if dstack.is_dry_run() then return true end
  local repository = assert(dstack.docker.parse_reference(reference)).repository
  local image = dstack.docker.inspect_image(reference)
  for _, digest in ipairs(image and image.RepoDigests or {}) do
    local parsed = dstack.docker.parse_reference(digest)
    if parsed and parsed.repository == repository then return true, parsed.digest end
  end
  return true
end

-- Pulls an image.
function M.pull(reference)
  check(reference, "string", 1, "pull")
  return change_with_progress({"pull", reference})
end

-- Creates a container from `args` (`docker create` arguments, the image among them) without
-- starting it; returns its ID (a placeholder in dry-run).
function M.create(args)
  check(args, "table", 1, "create")
  local created, result = change(table.move(args, 1, #args, 2, {"create"}))
  if not created then return nil, result end
  return dstack.is_dry_run() and "CONTAINER" or (result.stdout:gsub("%s+$", ""))
end

-- Copies `source` to `target`, as `docker cp` (one of them `CONTAINER:PATH`).
function M.copy(source, target)
  check(source, "string", 1, "copy")
  check(target, "string", 2, "copy")
  return change({"cp", source, target})
end

-- Makes image `reference` from container `container`'s file system; `changes` are
-- Dockerfile instructions applied to its configuration (`{"USER app", "LABEL a=b"}`).
function M.commit(container, reference, changes)
  check(container, "string", 1, "commit")
  check(reference, "string", 2, "commit")
  local args = {"commit"}
  for _, instruction in ipairs(changes or {}) do args[#args + 1] = "--change=" .. instruction end
  args[#args + 1] = container
  args[#args + 1] = reference
  return change(args)
end

-- Removes a container, running or not, with its anonymous volumes.
function M.remove_container(container)
  check(container, "string", 1, "remove_container")
  return change({"rm", "--force", "--volumes", container})
end

-- The label of the images `run` derives for a host uid (lib/containers.lua): the ID of the
-- image each was made from.
M.derived_from_label = "io.dstack.derived-from"

-- The images derived from image ID `id` for host users, as references.
function M.derived_images(id)
  check(id, "string", 1, "derived_images")
  local rows = assert(dstack.docker.query({"image", "ls", "--filter", "label=" .. M.derived_from_label .. "=" .. id,
    "--format", "{{json .}}"}, {json = true}))
  local references = {}
  for _, row in ipairs(rows) do references[#references + 1] = row.Repository .. ":" .. row.Tag end
  return references
end

-- Adds the tag `target` to the image `source`.
function M.tag(source, target)
  check(source, "string", 1, "tag")
  check(target, "string", 2, "tag")
  return change({"tag", source, target})
end

-- Removes an image (a tag). Options: `force` (boolean); `keep_parents` (boolean): its
-- untagged parent layers stay (`--no-prune`), as build cache for the next build and for a
-- build that is using them at this moment.
function M.rmi(reference, options)
  check(reference, "string", 1, "rmi")
  options = options_of(options, set("force", "keep_parents"), 2, "rmi")
  local args = {"rmi"}
  if options.force then args[#args + 1] = "--force" end
  if options.keep_parents then args[#args + 1] = "--no-prune" end
  args[#args + 1] = reference
  return change(args)
end

-- Local images of repository `repository` (all images when nil): `{repository, tag, id,
-- created, size}` each; untagged images are left out.
function M.images(repository)
  local args = {"image", "ls", "--format", "{{json .}}"}
  if repository ~= nil then
    check(repository, "string", 1, "images")
    args[#args + 1] = repository
  end
  local rows, problem = dstack.docker.query(args, {json = true})
  if not rows then return nil, problem end
  local images = {}
  for _, row in ipairs(rows) do
    if row.Tag ~= "<none>" then
      images[#images + 1] = {repository = row.Repository, tag = row.Tag, id = row.ID, created = row.CreatedAt, size = row.Size}
    end
  end
  return images
end

-- Containers, running or not: `{id, image, names, state, status, labels}` each. Options:
-- `filters` (map, as `docker ps --filter KEY=VALUE`), `running_only` (boolean).
function M.containers(options)
  options = options_of(options, set("filters", "running_only"), 1, "containers")
  local filters = {}
  for key, value in pairs(options.filters or {}) do filters[key] = value end
  if options.running_only then filters.status = "running" end
  return dstack.docker.containers(filters)
end

-- `docker info` as a table (`Runtimes`, `ServerVersion`, `OSType`, …).
function M.info()
  local rows, problem = dstack.docker.query({"info", "--format", "{{json .}}"}, {json = true})
  if not rows then return nil, problem end
  return rows[1]
end

local engine_facts

-- What kind of engine answers, asked once per run: `{podman, rootless, name}`. Rootless:
-- a container's root is the user on the host (rootless Docker says so among its security
-- options; rootless Podman keeps its images in the user's home, not /var/lib/containers).
function M.engine()
  if engine_facts then return engine_facts end
  local info = assert(M.info())
  local components = dstack.docker.query({"version", "--format", "{{json .Server.Components}}"}, {json = true})
  local podman = false
  for _, component in ipairs(components and components[1] or {}) do
    if component.Name == "Podman Engine" then podman = true end
  end
  local rootless = false
  for _, option in ipairs(info.SecurityOptions or {}) do
    if option:match("name=rootless") then rootless = true end
  end
  if podman and not (info.DockerRootDir or ""):match("^/var/lib/") then rootless = true end
  engine_facts = {
    podman = podman, rootless = rootless,
    name = (rootless and "rootless " or "") .. (podman and "Podman " or "Docker ") .. (info.ServerVersion or ""),
  }
  return engine_facts
end

-- What a rootless engine needs of this machine and it lacks, one line each naming the fix
-- (Debian's packages): newuidmap and newgidmap, a range of subordinate ids for the user,
-- slirp4netns and /dev/net/tun for its network, and for Podman catatonit (its --init).
-- `engine` as `M.engine()` tells it; `files` names other places for /etc/subuid and
-- /etc/subgid (tests).
function M.rootless_gaps(engine, files)
  files = files or {}
  local user = dstack.env.user()
  local gaps = {}
  local function need(program, package)
    if not dstack.proc.which(program) and not dstack.fs.exists("/usr/bin/" .. program) then
      gaps[#gaps + 1] = program .. " is missing: install " .. package .. " (Debian: apt-get install " .. package .. ")"
    end
  end
  need("newuidmap", "uidmap")
  need("newgidmap", "uidmap")
  need("slirp4netns", "slirp4netns")
  for _, kind in ipairs({"subuid", "subgid"}) do
    local path = files[kind] or ("/etc/" .. kind)
    local found = false
    for owner in (dstack.fs.read(path) or ""):gmatch("([^:\n]+):%d+:%d+") do
      found = found or owner == user.name or owner == tostring(user.uid)
    end
    if not found then
      gaps[#gaps + 1] = path .. " gives " .. user.name .. " no range of ids: as root, run usermod --add-"
        .. kind .. "s 100000-165535 " .. user.name .. " (a range no other user has)"
    end
  end
  local tun = dstack.fs.stat("/dev/net/tun")
  if not tun then
    gaps[#gaps + 1] = "/dev/net/tun is missing: as root, run modprobe tun"
  elseif tun.mode & 6 ~= 6 and tun.uid ~= user.uid then
    gaps[#gaps + 1] = "/dev/net/tun is not usable by you: as root, run chmod 666 /dev/net/tun"
  end
  local catatonit = "/usr/libexec/podman/catatonit"
  if engine.podman and not dstack.fs.exists(catatonit) then
    gaps[#gaps + 1] = catatonit .. " is missing, which Podman runs for --init: install catatonit "
      .. "(Debian: apt-get install catatonit)"
  end
  return gaps
end

-- Warns when version `tag` of `repository` is dated more than a day after now: it sorts
-- before every honest version until then (a clock that was ahead where it was made).
function M.warn_if_future(repository, tag)
  local version = dstack.version.parse(tag)
  local made = os.time({year = version.year, month = version.month, day = version.day, hour = version.hour or 0,
    min = version.minute or 0, sec = version.second or 0})
  if made - os.time() > 86400 then
    dstack.log.warn(repository .. ":" .. tag .. " is dated " .. string.format("%04d-%02d-%02d", version.year, version.month, version.day) .. ", after today: it "
      .. "stays the newest version until then (a clock that was ahead where it was built?); remove that tag, or "
      .. "name the version to use")
  end
end

-- The label of the uid whose build an image is (`build` sets it).
M.builder_label = "io.dstack.builder"

-- True when the local image `inspected` (docker image inspect) is another user's build on
-- an engine teammates share. A rootless engine is the user's alone: every image in it is
-- theirs, wherever it was built (asked only for an image another uid built).
function M.built_by_another(inspected)
  local builder = inspected and ((inspected.Config or {}).Labels or {})[M.builder_label]
  if not builder or builder == tostring(dstack.env.user().uid) then return false end
  return not M.engine().rootless
end

-- The newest local version tag of `repository` that another user did not build: on an
-- engine that teammates share, a name without a tag never means a teammate's local build
-- (its full tag still does). Images are looked at newest first, only until one counts
-- (each look is one request on the engine's socket). Nil when there is none; nil and a
-- message when the engine cannot say.
function M.newest_own_local(repository)
  local entries, problem = dstack.docker.local_tags(repository)
  if not entries then return nil, problem end
  local tags = {}
  for _, entry in ipairs(entries) do tags[#tags + 1] = entry.tag end
  local others = {}
  for _, tag in ipairs(dstack.version.sort(tags)) do
    if not M.built_by_another(dstack.docker.inspect_image(repository .. ":" .. tag)) then
      if #others > 0 then
        local say = dstack.is_dry_run() and dstack.log.info or dstack.log.debug
        say("left out " .. repository .. ":" .. table.concat(others, ", ") .. ": built by another user (name the "
          .. "tag to use one)")
      end
      return tag
    end
    others[#others + 1] = tag
  end
  return nil
end

-- The newest version of `name` in the local engine and its registry (not when offline),
-- as `repo:TAG` and the tag; tags that are not versions are ignored. A name with a tag
-- or digest is returned as it is when the image exists locally or in its registry.
-- When nothing is found: nil, a message, and the registry's problem when it failed.
function M.newest(name)
  check(name, "string", 1, "newest")
  local reference, invalid = dstack.docker.parse_reference(name)
  if not reference then return nil, invalid end
  local where = dstack.is_offline() and "in the local engine (offline)" or ("in the local engine or on " .. reference.registry)
  if reference.tag or reference.digest then
    if dstack.docker.inspect_image(name) then return name, reference.tag end
    if not dstack.is_offline() then
      local found, problem, kind = dstack.registry.manifest(name)
      if found then return name, reference.tag end
      if kind ~= "not_found" then
        return nil, "image " .. name .. " not found " .. where .. " (" .. problem .. ")", problem
      end
    end
    return nil, "image " .. name .. " not found " .. where
  end
  local own, problem = M.newest_own_local(reference.repository)
  if problem then return nil, problem end
  local repository = reference.repository
  if not own and not name:find("^[^/]*[.:]") and name:sub(1, 10) ~= "localhost/" then
    -- Podman keeps local images without a registry as localhost/NAME.
    local podman = M.newest_own_local("localhost/" .. repository)
    if podman then own, repository = podman, "localhost/" .. repository end
  end
  local tags = {own}
  local registry_problem
  if not dstack.is_offline() and repository == reference.repository then
    local remote
    remote, registry_problem = dstack.registry.tags(reference.repository)
    if remote then
      table.move(remote, 1, #remote, #tags + 1, tags)
    else
      where = where .. " (" .. registry_problem .. ")"
    end
  end
  local newest = dstack.version.newest(tags)
  if newest then
    M.warn_if_future(repository, newest)
    return repository .. ":" .. newest, newest
  end
  return nil, "no version of " .. reference.repository .. " (tags YY.MM.DD or YYYYMMDD-HHMMSS) found " .. where,
    registry_problem
end

return M
