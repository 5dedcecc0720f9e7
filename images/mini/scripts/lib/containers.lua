-- containers: what the run, ps, stop, shell and logs scripts know about images, users,
-- docker run options and the containers dstack started.
local docker = require("docker")

local M = {}

-- Labels on every container the run script starts, so ps, stop, shell and logs find them.
M.labels = {user = "io.dstack.user", image = "io.dstack.image", version = "io.dstack.version"}

-- docker run options whose value is the next word (others must be written --option=value).
M.docker_options_with_values = {}
for _, name in ipairs({
  "-v", "--volume", "-p", "--publish", "-e", "--env", "--env-file", "--network", "--net", "-m", "--memory",
  "--shm-size", "--name", "--restart", "-w", "--workdir", "-u", "--user", "--entrypoint", "-l", "--label",
  "--mount", "--cpus", "--device", "--add-host", "--hostname", "--platform", "--pull", "--ulimit",
  "--cap-add", "--cap-drop", "--security-opt", "--tmpfs", "--ipc", "--pid", "--runtime", "--log-driver",
  "--log-opt", "--dns", "--expose", "--group-add", "--stop-signal", "--stop-timeout", "--cidfile",
}) do
  M.docker_options_with_values[name] = true
end

-- The set of option names in a docker argument list (`--name=x` counts as --name).
function M.option_set(words)
  local set = {}
  for _, word in ipairs(words) do
    if word:sub(1, 1) == "-" then set[word:match("^([^=]+)")] = true end
  end
  return set
end

-- IMAGE with a tag or digest as it is; otherwise its newest version (local or registry,
-- pulled when only the registry has it), or IMAGE itself when it has no version tags.
-- Returns the reference and `docker image inspect` of it (nil when it is not local).
function M.resolve_image(requested)
  local reference, invalid = dstack.docker.parse_reference(requested)
  if not reference then error(invalid, 0) end
  local image = requested
  if not reference.tag and not reference.digest then
    local newest, problem = docker.newest(requested)
    if newest then
      image = newest
    else
      dstack.log.debug("using " .. requested .. " as it is: " .. problem)
    end
  end
  local inspected = dstack.docker.inspect_image(image)
  if not inspected and image ~= requested then
    dstack.log.info("pulling " .. image)
    local pulled, message = docker.pull(image)
    if not pulled then error("cannot pull " .. image .. ": " .. message, 0) end
    inspected = dstack.docker.inspect_image(image)
  end
  return image, inspected
end

-- The home folder in the container for `user` (nil: the image's default, root).
function M.home_of(user, environment)
  for _, entry in ipairs(environment or {}) do
    local home = entry:match("^HOME=(.+)$")
    if home and user ~= "root" then return home end
  end
  if user == nil or user == "root" or user == "0" then return "/root" end
  return "/home/" .. user:gsub(":.*$", "")
end

-- A container name no other run takes, even in the same second.
function M.unique_name(user, repository)
  local base = (user .. "-" .. repository:match("([^/]+)$")):lower():gsub("[^a-z0-9_.-]", "-")
  return string.format("%s-%s-%04x", base, dstack.version.datetime(), math.random(0, 0xffff))
end

local interactive = {
  bash = true, sh = true, zsh = true, ash = true, python = true, python3 = true, ipython = true,
  ptpython = true, ptipython = true, R = true, pudb = true, pudb3 = true,
}

-- True for no command or a shell or interpreter without a script.
function M.is_interactive(command)
  if #command == 0 then return true end
  return interactive[command[1]:match("([^/]+)$")] and #command == 1 or false
end

function M.is_loopback(address)
  return address == "localhost" or address:match("^127%.") ~= nil or address == "::1" or address == "[::1]"
end

-- Why GPUs cannot be used here (one line naming the fix), or nil when they can.
function M.missing_gpu_support()
  local info = assert(docker.info())
  if (info.Runtimes or {}).nvidia then return nil end
  for _, device in ipairs(info.DiscoveredDevices or {}) do
    if (device.ID or ""):find("gpu", 1, true) then return nil end
  end
  for _, hook in ipairs({"nvidia-container-runtime-hook", "nvidia-cdi-hook"}) do
    if dstack.proc.which(hook) then return nil end
  end
  return "--gpu: this Docker engine has no GPU support (no nvidia runtime, CDI GPU device or NVIDIA "
    .. "container toolkit found); install nvidia-container-toolkit, run `sudo nvidia-ctk runtime configure "
    .. "--runtime=docker` and restart docker, or run without --gpu"
end

local ps_format = '{"id":{{json .ID}},"name":{{json .Names}},"image":{{json (.Label "io.dstack.image")}},'
  .. '"version":{{json (.Label "io.dstack.version")}},"state":{{json .State}},"status":{{json .Status}},'
  .. '"ports":{{json .Ports}}}'

-- The containers the run script started for this user: `{id, name, image, version, state,
-- status, ports}` each, newest first. Options: `all` (also stopped ones).
function M.started_by_dstack(options)
  local args = {"ps", "--no-trunc", "--filter", "label=" .. M.labels.user .. "=" .. dstack.env.user().name,
    "--format", ps_format}
  if options and options.all then args[#args + 1] = "--all" end
  return assert(dstack.docker.query(args, {json = true}))
end

-- The running dstack containers that `target` names: a container name, an image
-- (`team/app`, `team/app:TAG`) or an image's last name part (`app`).
function M.matching(target)
  local found = {}
  for _, container in ipairs(M.started_by_dstack()) do
    local image = container.image or ""
    if container.name == target or container.id:sub(1, #target) == target and #target >= 12 or image == target
      or image .. ":" .. (container.version or "") == target or image:match("([^/]+)$") == target then
      found[#found + 1] = container
    end
  end
  return found
end

-- One line per container, for messages: `name (image:version, status)`.
function M.describe(container)
  return string.format("%s (%s:%s, %s)", container.name, container.image, container.version, container.status)
end

-- The one running dstack container `target` names (any, when nil and only one runs);
-- raises a clear error otherwise.
function M.one(target, verb)
  local found = target and M.matching(target) or M.started_by_dstack()
  if #found == 1 then return found[1] end
  if #found == 0 then
    error(target and ("no running container of yours matches '" .. target .. "'; `dstack run-script ps` lists them")
      or "no container started by dstack is running; `dstack run-script ps --all` lists stopped ones", 0)
  end
  local names = {}
  for _, container in ipairs(found) do names[#names + 1] = M.describe(container) end
  error(#found .. " containers match; name the one to " .. verb .. ": " .. table.concat(names, "; "), 0)
end

return M
