-- containers: what the run script knows about images, users and docker run options.
local M = {}

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

-- `repo:tag` split into the repository and the tag (nil when absent or a digest is used).
function M.split_reference(reference)
  local without_digest = reference:gsub("@.*$", "")
  local repository, tag = without_digest:match("^(.*[^/]):([^/:]+)$")
  return repository or without_digest, tag
end

-- IMAGE with a tag or digest as it is; otherwise its newest version (local or registry,
-- pulled when only the registry has it), or IMAGE itself when it has no version tags.
-- Returns the reference and `docker image inspect` of it (nil when it is not local).
function M.resolve_image(requested)
  local _, tag = M.split_reference(requested)
  local image = requested
  if not tag and not requested:find("@", 1, true) then
    local newest, problem = dstack.docker.latest(requested)
    if newest then
      image = newest
    else
      dstack.log.debug("using " .. requested .. " as it is: " .. problem)
    end
  end
  local inspected = dstack.docker.inspect(image)
  if not inspected and image ~= requested then
    dstack.log.info("pulling " .. image)
    local pulled, message = dstack.docker.pull(image)
    if not pulled then error("cannot pull " .. image .. ": " .. message, 0) end
    inspected = dstack.docker.inspect(image)
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
  local info = assert(dstack.docker.info())
  if (info.Runtimes or {}).nvidia then return nil end
  for _, device in ipairs(info.DiscoveredDevices or {}) do
    if (device.ID or ""):find("gpu", 1, true) then return nil end
  end
  for _, hook in ipairs({"nvidia-container-runtime-hook", "nvidia-cdi-hook"}) do
    for folder in (dstack.env.get("PATH") or ""):gmatch("[^:]+") do
      if dstack.fs.exists(dstack.fs.join(folder, hook)) then return nil end
    end
  end
  return "--gpu: this Docker engine has no GPU support (no nvidia runtime, CDI GPU device or NVIDIA "
    .. "container toolkit found); install nvidia-container-toolkit, run `sudo nvidia-ctk runtime configure "
    .. "--runtime=docker` and restart docker, or run without --gpu"
end

return M
