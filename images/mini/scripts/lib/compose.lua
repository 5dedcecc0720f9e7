-- compose: the services a project declares beside itself (a database its tests need), in
-- the format people already write: a Compose file (compose.yaml, at the project's root or
-- in docker/), a documented subset of the Compose Specification.
--
-- `build` starts fresh ones for its tests, as testcontainers does: on a network of their
-- own (one per build, so two builds, a teammate's included, never see each other's), each
-- reachable under its service name, healthy before the tests start; removed afterwards,
-- also after Ctrl-C, and a killed build's are removed by the next build. `run` and
-- `dstack run-script services up` keep long-lived ones per user and project, whose named
-- volumes stay until `services down --volumes`.
--
-- What a service asks for is judged by the rule of run-options (lib/allowances.lua): what
-- reaches the host (a bind mount from outside the project, privileged, host networking,
-- a published port on every address) needs `dstack run-script allow`. A service image
-- keeps its own USER.
--
--   local compose = require("compose")
--   local group = compose.start(root, {repository = "team/app"})   -- nil without a Compose file
--   ... run the tests with --network=group.network ...
--   compose.stop(group)
local allowances = require("allowances")
local docker = require("docker")
local project = require("project")

local M = {}

-- The Compose files dstack reads, first found wins, at the root and then in docker/.
M.file_names = {"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"}

-- Labels on what a group of services is made of, so the next build finds a killed one's.
M.labels = {group = "io.dstack.services", owner = "io.dstack.services.owner"}

-- The Compose file of the project at `root`, or nil.
function M.file(root)
  local trust = require("trust")
  for _, folder in ipairs({root, dstack.fs.join(root, "docker")}) do
    for _, name in ipairs(M.file_names) do
      local path = dstack.fs.join(folder, name)
      if trust.counts(path) then return path end
    end
  end
end

local function list(value)
  if value == nil then return {} end
  if type(value) ~= "table" then return {value} end
  return value
end

-- A string list from a Compose string or list: a string is split on spaces (no shell).
local function words_of(value, where)
  if type(value) == "string" then return project.split_words(value) end
  if type(value) ~= "table" then error(where .. " must be a string or a list of strings", 0) end
  local words = {}
  for _, word in ipairs(value) do words[#words + 1] = tostring(word) end
  return words
end

-- A word quoted for sh (healthcheck CMD lists become docker's one shell string).
local function shell_quote(word)
  if word:match("^[%w@%%+=:,./_-]+$") then return word end
  return "'" .. word:gsub("'", "'\\''") .. "'"
end

-- KEY=VALUE lines of a docker env file at `path` (`#` comments, blank lines skipped).
local function env_file_lines(path, where)
  local text = dstack.fs.read(path)
  if not text then error(where .. ": cannot read " .. path, 0) end
  local lines = {}
  for line in text:gmatch("[^\r\n]+") do
    if not line:match("^%s*#") and line:match("%S") then lines[#lines + 1] = line end
  end
  return lines
end

-- Raises one line naming `setting` when the table `spec` has a key outside `known`.
local function only(spec, known, setting)
  local unknown = {}
  for key in pairs(spec) do
    if not known[key] then unknown[#unknown + 1] = tostring(key) end
  end
  table.sort(unknown)
  if #unknown > 0 then
    error(setting .. ": " .. table.concat(unknown, ", ") .. " is not read by dstack; leave it out, or run the "
      .. "service with docker compose", 0)
  end
end

-- The docker run options of one service (`spec`, a table from the Compose file), as words
-- for lib/run_options.lua to judge; the image, entrypoint and command apart.
local function service_options(spec, root, where)
  local words = {}
  local function add(word) words[#words + 1] = word end
  local handled = {image = true, build = true, command = true, entrypoint = true, depends_on = true}
  for key, value in pairs(spec) do
    if key == "environment" then
      if value[1] ~= nil or next(value) == nil then
        for _, item in ipairs(value) do add("--env=" .. tostring(item)) end
      else
        for variable, setting in pairs(value) do
          add("--env=" .. variable .. (setting ~= nil and ("=" .. tostring(setting)) or ""))
        end
      end
    elseif key == "env_file" then
      for _, file in ipairs(list(value)) do
        local path = type(file) == "table" and file.path or file
        local required = not (type(file) == "table" and file.required == false)
        local full = dstack.fs.join(root, tostring(path))
        local real = dstack.fs.realpath(full)
        local real_root = dstack.fs.realpath(root) or root
        if not real then
          if required then error(where .. ".env_file: " .. tostring(path) .. " does not exist (or say required: false)", 0) end
        elseif real ~= real_root and real:sub(1, #real_root + 1) ~= real_root .. "/" then
          add("--env-file=" .. full)
        else
          for _, line in ipairs(env_file_lines(real, where)) do add("--env=" .. line) end
        end
      end
    elseif key == "tmpfs" then
      for _, item in ipairs(list(value)) do add("--tmpfs=" .. item) end
    elseif key == "volumes" then
      for _, volume in ipairs(value) do
        if type(volume) == "table" then
          local setting = where .. ".volumes"
          only(volume, {type = true, source = true, target = true, read_only = true, volume = true, bind = true}, setting)
          only(volume.volume or {}, {nocopy = true}, setting .. ".volume")
          only(volume.bind or {}, {propagation = true, create_host_path = true}, setting .. ".bind")
          local source = volume.source
          add("--mount=type=" .. tostring(volume.type or "volume") .. (source and (",source=" .. source) or "")
            .. ",target=" .. tostring(volume.target) .. (volume.read_only and ",readonly" or "")
            .. ((volume.volume or {}).nocopy and ",volume-nocopy" or "")
            .. ((volume.bind or {}).propagation and (",bind-propagation=" .. tostring(volume.bind.propagation)) or ""))
        else
          add("--volume=" .. volume)
        end
      end
    elseif key == "user" then add("--user=" .. tostring(value))
    elseif key == "working_dir" then add("--workdir=" .. tostring(value))
    elseif key == "ports" then
      for _, port in ipairs(value) do
        if type(port) == "table" then
          -- The long syntax, written as docker's: [HOST_IP:][PUBLISHED:]TARGET[/PROTOCOL].
          only(port, {name = true, target = true, published = true, host_ip = true, protocol = true,
            app_protocol = true, mode = true}, where .. ".ports")
          if port.target == nil then error(where .. ".ports: an entry of the long syntax needs target", 0) end
          local text = tostring(port.target)
          local published = port.published ~= nil and tostring(port.published) or ""
          local address = port.host_ip and tostring(port.host_ip)
          if address and address:find(":", 1, true) and address:sub(1, 1) ~= "[" then address = "[" .. address .. "]" end
          if address then text = address .. ":" .. published .. ":" .. text
          elseif published ~= "" then text = published .. ":" .. text end
          if port.protocol then text = text .. "/" .. tostring(port.protocol) end
          add("--publish=" .. text)
        else
          add("--publish=" .. tostring(port))
        end
      end
    elseif key == "healthcheck" then
      if value.disable then
        add("--no-healthcheck")
      else
        local test = value.test
        if type(test) == "table" and test[1] == "NONE" then
          add("--no-healthcheck")
        elseif test ~= nil then
          local command = type(test) == "string" and test or nil
          if type(test) == "table" and test[1] == "CMD-SHELL" then command = test[2] end
          if type(test) == "table" and test[1] == "CMD" then
            local quoted = {}
            for index = 2, #test do quoted[#quoted + 1] = shell_quote(tostring(test[index])) end
            command = table.concat(quoted, " ")
          end
          if not command then error(where .. ".healthcheck.test: write [\"CMD\", ...], [\"CMD-SHELL\", \"...\"] or a string", 0) end
          add("--health-cmd=" .. command)
        end
        for compose, option in pairs({interval = "interval", timeout = "timeout", start_period = "start-period",
          retries = "retries"}) do
          if value[compose] ~= nil then add("--health-" .. option .. "=" .. tostring(value[compose])) end
        end
      end
    elseif key == "privileged" then
      if value then add("--privileged") end
    elseif key == "network_mode" then add("--network=" .. tostring(value))
    elseif key == "cap_add" then
      for _, capability in ipairs(value) do add("--cap-add=" .. capability) end
    elseif not handled[key] then
      error(where .. ": '" .. key .. "' is not in the part of the Compose Specification dstack reads (image, build, "
        .. "command, entrypoint, environment, env_file, healthcheck, tmpfs, volumes, user, working_dir, ports, "
        .. "depends_on); remove it, or run this service yourself", 0)
    end
  end
  table.sort(words)
  return words
end

-- Seconds in a Compose duration (`1m30s`, `500ms`, `10`), or `default`.
local function seconds(text, default)
  if text == nil then return default end
  local total = 0
  for amount, unit in tostring(text):gmatch("([%d.]+)(%a*)") do
    local factor = ({h = 3600, m = 60, s = 1, ms = 0.001, us = 0.000001, [""] = 1})[unit] or 1
    total = total + (tonumber(amount) or 0) * factor
  end
  return total
end

-- How long a service may take to become healthy: its healthcheck's own budget (docker's
-- defaults: every 30 s, 30 s each, 3 retries), at least 30 s and at most 300 s.
local function deadline_of(healthcheck)
  if type(healthcheck) ~= "table" then return 30 end
  local budget = seconds(healthcheck.start_period, 0)
    + (seconds(healthcheck.interval, 30) + seconds(healthcheck.timeout, 30)) * ((tonumber(healthcheck.retries) or 3) + 1)
  return math.max(30, math.min(300, math.ceil(budget)))
end

-- The services of the Compose file `path` of the project at `root`: a list in start
-- order (a service after those it depends on), each `{name, image, build, command,
-- entrypoint, words, condition}` (`condition`: what the services that depend on it wait
-- for: healthy or started). Raises one line naming the file and the service for what it
-- cannot read.
function M.read(path, root)
  local text = assert(dstack.fs.read(path))
  local data, problem = dstack.yaml.decode(text)
  if problem then error(path .. ": " .. problem, 0) end
  if type(data) ~= "table" or type(data.services) ~= "table" then
    error(path .. ": no services: a Compose file here lists what the tests need under `services:`", 0)
  end
  local by_name, names = {}, {}
  for name, spec in pairs(data.services) do
    local where = path .. ": services." .. name
    if not name:match("^[a-z0-9][a-z0-9_.-]*$") then error(where .. ": a service name is [a-z0-9][a-z0-9_.-]*", 0) end
    if type(spec) ~= "table" then error(where .. " must be a mapping", 0) end
    if not spec.image and not spec.build then error(where .. ": give it an image or a build", 0) end
    local service = {name = name, image = spec.image, depends = {}, where = where}
    if spec.build then
      local build = type(spec.build) == "table" and spec.build or {context = spec.build}
      -- The context and the Dockerfile, as the kernel resolves them, inside the project
      -- (docker's client reads both).
      local real_root = dstack.fs.realpath(root) or root
      local function inside(relative, from)
        local real = dstack.fs.realpath(dstack.fs.join(from, relative))
        return real and (real == real_root or real:sub(1, #real_root + 1) == real_root .. "/") and real or nil
      end
      local context = inside(build.context or ".", dstack.fs.dirname(path))
      if not context then error(where .. ".build: the context must be a folder inside the project", 0) end
      local file = build.dockerfile and inside(build.dockerfile, context)
      if build.dockerfile and not file then
        error(where .. ".build.dockerfile: the Dockerfile must be a file inside the project", 0)
      end
      service.build = {context = context, file = file}
    end
    service.command = spec.command and words_of(spec.command, where .. ".command")
    service.entrypoint = spec.entrypoint and words_of(spec.entrypoint, where .. ".entrypoint")
    service.words = service_options(spec, root, where)
    service.healthcheck = spec.healthcheck ~= nil and not spec.healthcheck.disable
    service.deadline = deadline_of(spec.healthcheck)
    local depends = spec.depends_on or {}
    if depends[1] ~= nil then
      for _, other in ipairs(depends) do service.depends[other] = "service_started" end
    else
      for other, setting in pairs(depends) do
        service.depends[other] = type(setting) == "table" and setting.condition or "service_started"
      end
    end
    by_name[name] = service
    names[#names + 1] = name
  end
  table.sort(names)
  -- Start order: each after what it depends on; a cycle or an unknown name is an error.
  local ordered, state = {}, {}
  local function visit(name, from)
    local service = by_name[name]
    if not service then error(from .. ".depends_on names '" .. name .. "', which is not a service", 0) end
    if state[name] == "done" then return end
    if state[name] == "visiting" then error(from .. ".depends_on makes a cycle through " .. name, 0) end
    state[name] = "visiting"
    local others = {}
    for other in pairs(service.depends) do others[#others + 1] = other end
    table.sort(others)
    for _, other in ipairs(others) do visit(other, service.where) end
    state[name] = "done"
    ordered[#ordered + 1] = service
  end
  for _, name in ipairs(names) do visit(name, path .. ": services." .. name) end
  return ordered
end

-- This process's id and start time (`PID:TICKS`), to tell later whether it still runs.
local function this_process()
  local stat = dstack.fs.read("/proc/self/stat") or ""
  local pid, rest = stat:match("^(%d+) %b() (.*)$")
  local fields = {}
  for field in (rest or ""):gmatch("%S+") do fields[#fields + 1] = field end
  return (pid or "0") .. ":" .. (fields[20] or "0")
end

-- True when the process `owner` (`PID:TICKS`) still runs.
local function is_running(owner)
  local pid, ticks = (owner or ""):match("^(%d+):(%d+)$")
  local stat = pid and dstack.fs.read("/proc/" .. pid .. "/stat")
  if not stat then return false end
  local fields = {}
  for field in (stat:match("^%d+ %b() (.*)$") or ""):gmatch("%S+") do fields[#fields + 1] = field end
  return fields[20] == ticks
end

-- Removes what group `group` is made of (`{name, network, named_volumes}`; only `name`
-- when what it holds is not known): its containers with their anonymous volumes, its
-- network and (unless `keep_volumes`) its named volumes.
local function remove_group(group, keep_volumes)
  local name = group.name
  local containers = {}
  for _, row in ipairs(M.containers(name)) do containers[#containers + 1] = row.id end
  if #containers > 0 then
    dstack.docker.change(table.move(containers, 1, #containers, 4, {"rm", "--force", "--volumes"}))
  end
  -- Its named volumes carry its name (docker run makes them without labels).
  if not keep_volumes and group.named_volumes ~= false then
    for id in (dstack.docker.query({"volume", "ls", "--quiet", "--filter", "name=" .. name .. "-"}) or ""):gmatch("%S+") do
      if id:sub(1, #name + 1) == name .. "-" then dstack.docker.change({"volume", "rm", "--force", id}) end
    end
  end
  if group.network then
    dstack.docker.change({"network", "rm", group.network})
    return
  end
  local filter = "label=" .. M.labels.group .. "=" .. name
  for id in (dstack.docker.query({"network", "ls", "--quiet", "--filter", filter}) or ""):gmatch("%S+") do
    dstack.docker.change({"network", "rm", id})
  end
end

-- Removes the groups of the user's builds that were killed before they could (their
-- process is gone).
function M.remove_left_over(user)
  local rows = dstack.docker.query({"network", "ls", "--filter", "label=" .. M.labels.group, "--filter",
    "label=io.dstack.user=" .. user, "--format", "{{json .}}"}, {json = true}) or {}
  for _, row in ipairs(rows) do
    local labels = {}
    for pair in (row.Labels or ""):gmatch("[^,]+") do
      local key, value = pair:match("^([^=]+)=(.*)$")
      if key then labels[key] = value end
    end
    local group = labels[M.labels.group]
    if group and labels[M.labels.owner] and not is_running(labels[M.labels.owner]) then
      dstack.log.info("removing the services of a build that did not end (" .. group .. ")")
      remove_group({name = group})
    end
  end
end

-- Whether the engine lists container `id` with the docker ps filter `key`=`value`: asked
-- on the engine's socket, a few milliseconds, where `docker inspect` takes tens.
local function listed(id, key, value)
  return #(docker.containers{filters = {id = id, [key] = value}} or {}) > 0
end

-- Waits until `service`'s container (`id`, named `container`) is healthy, or running when
-- the Compose file gives it no healthcheck (and its image none either); raises one line
-- with its last log lines when it ends or its deadline passes.
local function wait_until_ready(id, container, service)
  local started = os.time()
  while true do
    local problem
    local row = (docker.containers{filters = {id = id}} or {})[1]
    local state = row and row.state or "removed"
    if state == "running" then
      if service.healthcheck then
        if listed(id, "health", "healthy") then return end
        if listed(id, "health", "unhealthy") then problem = "its healthcheck says unhealthy" end
      else
        -- The image's own HEALTHCHECK, if it has one, counts.
        local inspected = dstack.docker.query({"inspect", "--format", "{{json .State}}", id}, {json = true})
        local health = inspected and inspected[1] and inspected[1].Health
        if not health or health.Status == "healthy" then return end
      end
    elseif state ~= "created" then
      local inspected = dstack.docker.query({"inspect", "--format", "{{json .State}}", id}, {json = true})
      local code = inspected and inspected[1] and inspected[1].ExitCode
      problem = "it ended (" .. (code and ("exit " .. code) or state) .. ")"
    end
    if not problem and os.time() - started > service.deadline then
      problem = "it was not healthy within " .. service.deadline .. " s"
    end
    if problem then
      local logs = dstack.docker.query({"logs", "--tail", "20", container}) or ""
      local lines = {}
      for line in logs:gmatch("[^\n]+") do lines[#lines + 1] = "  " .. line end
      error("the service " .. service.name .. " did not start: " .. problem .. (#lines > 0
        and ("; its last log lines:\n" .. table.concat(lines, "\n")) or "; it wrote no log"), 0)
    end
    -- Often at first, when a service usually becomes ready, then less.
    dstack.proc.sleep(os.time() - started < 5 and 0.05 or 0.25)
  end
end

-- Waits until the services of `group` that are starting are ready (see wait_until_ready).
local function wait_for_all(group)
  while #group.starting > 0 and not dstack.is_dry_run() do
    local pending = table.remove(group.starting, 1)
    wait_until_ready(pending.id, pending.container, pending.service)
  end
end

-- The name of the long-lived services of the project at `root` for this user.
function M.long_lived_name(root)
  return "dstack-" .. (dstack.env.user().name .. "-" .. project.reference_name(dstack.fs.basename(root)))
    :lower():gsub("[^a-z0-9_.-]", "-")
end

-- The containers of group `name` (`{id, names, state, status, …}` each, as docker.containers).
function M.containers(name)
  return docker.containers{filters = {label = M.labels.group .. "=" .. name}} or {}
end

-- Starts the services of the project at `root`; returns the group `{name, network}` (nil
-- when the project has no Compose file). `where.repository` names the project's image.
-- Without `where.long_lived`, fresh ones for one build's tests; with it, the user's
-- long-lived ones for the project (M.long_lived_name), left as they are when every one of
-- them runs, their named volumes kept. Each is ready (healthy, or running) before the
-- next starts; with `where.ready_later`, only those that others depend on, and `ready`
-- waits for the rest (a build waits while its image builds). On any failure what was
-- started is removed before the error.
function M.start(root, where)
  local path = M.file(root)
  if not path then return nil end
  local user = dstack.env.user().name
  -- What killed builds left goes before a build starts its own; long-lived services
  -- (`services up`, `run`) are not in their way, and stay one engine query when up.
  if not where.long_lived then M.remove_left_over(user) end
  local base = where.long_lived and M.long_lived_name(root)
    or require("containers").unique_name(user, where.repository .. "-svc")
  local group = {name = base, network = base, path = path, named_volumes = false, starting = {}}
  local services = M.read(path, root)
  -- What reaches the host needs the Compose file allowed, as run-options do; then the named
  -- volumes become the group's own (PREFIX-NAME), fresh for these tests.
  for _, service in ipairs(services) do
    local words = allowances.options(service.words, {file = path, setting = "services." .. service.name, root = root})
    for index, word in ipairs(words) do
      local mount, named = word:gsub("^(%-%-mount=type=volume,source=)", "%1" .. base .. "-")
      local volume, also_named = mount:gsub("^(%-%-volume=)([%w][%w_.-]*:)", "%1" .. base .. "-%2")
      words[index] = volume
      group.named_volumes = group.named_volumes or named + also_named > 0
    end
    service.words = words
  end
  if where.long_lived then
    local running = 0
    for _, row in ipairs(M.containers(base)) do
      if row.state == "running" then running = running + 1 end
    end
    if running == #services and running > 0 then return group end
    remove_group({name = base, network = base}, true)
  end
  local labels = {"--label=" .. M.labels.group .. "=" .. base, "--label=io.dstack.user=" .. user}
  -- A build's services carry its process, so the next build removes those of a killed one.
  local owner = where.long_lived and labels[2] or ("--label=" .. M.labels.owner .. "=" .. this_process())
  local ok, failure = pcall(function()
    local network = {"network", "create", owner}
    table.move(labels, 1, #labels, #network + 1, network)
    network[#network + 1] = base
    local created = dstack.docker.change(network)
    if created.code ~= 0 then error("cannot create the services' network: " .. created.stderr, 0) end
    for _, service in ipairs(services) do
      if next(service.depends) then wait_for_all(group) end
      local image = service.image
      local shown = image
      if service.build then
        -- Tagged per user, and started by the ID this build made: a teammate's build of
        -- the same project, at the same time, never swaps its service image in.
        local tag = image or ("dstack-services/" .. user .. "-" .. where.repository:match("([^/]+)$") .. "-"
          .. service.name .. ":latest")
        local id_file = dstack.fs.join(dstack.fs.tmpdir(), "image-id")
        local built, problem = docker.build{context = service.build.context, file = service.build.file,
          tags = {tag}, id_file = id_file}
        if not built then error("the build of the service " .. service.name .. " failed: " .. problem, 0) end
        image, shown = dstack.is_dry_run() and tag or assert(dstack.fs.read(id_file)):gsub("%s+$", ""), tag
      end
      local container = base .. "-" .. service.name
      local run = {"run", "--detach", "--name=" .. container, "--network=" .. base, "--network-alias=" .. service.name}
      table.move(labels, 1, #labels, #run + 1, run)
      run[#run + 1] = owner
      local words = require("containers").private_environment(service.words)
      table.move(words, 1, #words, #run + 1, run)
      if service.entrypoint then run[#run + 1] = "--entrypoint=" .. (service.entrypoint[1] or "") end
      run[#run + 1] = image
      local command = service.command or {}
      if service.entrypoint then command = table.move(service.entrypoint, 2, #service.entrypoint, 1, {}) end
      if service.entrypoint and service.command then table.move(service.command, 1, #service.command, #command + 1, command) end
      table.move(command, 1, #command, #run + 1, run)
      dstack.log.info("starting the service " .. service.name .. " (" .. shown .. ")")
      local started = dstack.docker.change(run)
      if started.code ~= 0 then
        error("the service " .. service.name .. " could not start: " .. (started.stderr:gsub("%s+$", "")), 0)
      end
      group.starting[#group.starting + 1] = {id = started.stdout:gsub("%s+$", ""), container = container,
        service = service}
      if not where.ready_later then wait_for_all(group) end
    end
  end)
  if not ok then
    remove_group(group, where.long_lived)
    error(failure, 0)
  end
  return group
end

-- Waits until every service of `group` that `start` started is ready; when one does not
-- become ready, removes the group (a build's: fresh, its volumes too) and raises why.
function M.ready(group)
  if not group then return end
  local ok, failure = pcall(wait_for_all, group)
  if not ok then
    remove_group(group)
    error(failure, 0)
  end
end

-- Removes a group that `start` made (or `{name = NAME}`), named volumes too unless
-- `keep_volumes`.
function M.stop(group, keep_volumes)
  if group then remove_group(group, keep_volumes) end
end

return M
