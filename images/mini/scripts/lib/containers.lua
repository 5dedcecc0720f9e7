-- containers: what the run, ps, stop, shell and logs scripts know about images, users,
-- docker run options and the containers dstack started.
local docker = require("docker")
local images = require("images")

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

-- The image `requested` means (see lib/images.lua), pulled when only its registry has it.
-- Returns the reference and `docker image inspect` of it (nil in a dry run that would pull).
function M.resolve_image(requested)
  local image, problem = images.find(requested)
  if not image then error(problem .. "; " .. images.advice, 0) end
  local inspected = dstack.docker.inspect_image(image)
  if not inspected then
    dstack.log.info("pulling " .. image)
    local pulled, message = docker.pull(image)
    if not pulled then error("cannot pull " .. image .. ": " .. message, 0) end
    inspected = dstack.docker.inspect_image(image)
  end
  return image, inspected
end

-- Run in a derived image as root: gives USER ($1) the uid ($2) and gid ($3), and gives it
-- what it owned (its home, and elsewhere: the stack's virtual environment in /opt/venv).
-- Arguments, not text, reach the shell.
local give_user_ids = [[set -e
entry=$(grep "^$1:" /etc/passwd) || { echo "user $1 is not in the image's /etc/passwd" >&2; exit 1; }
old=$(echo "$entry" | cut -d: -f3)
home=$(echo "$entry" | cut -d: -f6)
sed -i "s/^$1:\([^:]*\):[0-9]*:[0-9]*:/$1:\1:$2:$3:/" /etc/passwd
find / -xdev -user "$old" -exec chown -h "$2:$3" {} + 2>/dev/null || { [ ! -d "$home" ] || chown -R "$2:$3" "$home"; }
exit 0]]

-- `image` with its user `user` given the uid and gid of `host` (from dstack.env.user):
-- an image derived once per image and uid (`dstack-user/NAME:ID-UID-GID`), then reused.
-- Returns its reference, or nil and why it could not be made.
function M.with_host_user(image, user, host)
  local inspected = assert(dstack.docker.inspect_image(image))
  local name = assert(dstack.docker.parse_reference(image)).repository:match("([^/]+)$")
  local derived = string.format("dstack-user/%s:%s-%d-%d", name, inspected.Id:gsub("^sha256:", ""):sub(1, 12),
    host.uid, host.gid)
  if dstack.docker.inspect_image(derived) then return derived end
  dstack.log.info("giving " .. user .. " in " .. image .. " your uid " .. host.uid .. " (once per image version)")
  local folder = assert(dstack.fs.tmpdir())
  local command = dstack.json.encode({"/bin/sh", "-c", give_user_ids, "give-user-ids", user, tostring(host.uid),
    tostring(host.gid)})
  assert(dstack.fs.write(dstack.fs.join(folder, "Dockerfile"),
    "FROM " .. image .. "\nUSER root\nRUN " .. command .. "\nUSER " .. user .. "\n"))
  local built, problem = docker.build{
    context = folder, tags = {derived}, args = {"--quiet"},
    labels = {["io.dstack.derived-from"] = inspected.Id, ["io.dstack.uid"] = tostring(host.uid)},
  }
  dstack.fs.remove(folder, {recursive = true})
  if not built then return nil, "cannot give " .. user .. " in " .. image .. " your uid (" .. problem .. ")" end
  return derived
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

function M.is_loopback(address)
  return address == "localhost" or address:match("^127%.") ~= nil or address == "::1" or address == "[::1]"
end

-- Why GPUs cannot be used here (one line, starting with the `option` that asked for them
-- and naming the fix), or nil when they can.
function M.missing_gpu_support(option)
  local info = assert(docker.info())
  if (info.Runtimes or {}).nvidia then return nil end
  for _, device in ipairs(info.DiscoveredDevices or {}) do
    if (device.ID or ""):find("gpu", 1, true) then return nil end
  end
  for _, hook in ipairs({"nvidia-container-runtime-hook", "nvidia-cdi-hook"}) do
    if dstack.proc.which(hook) then return nil end
  end
  return option .. ": this Docker engine has no GPU support (no nvidia runtime, CDI GPU device or NVIDIA "
    .. "container toolkit found); install nvidia-container-toolkit, run `sudo nvidia-ctk runtime configure "
    .. "--runtime=docker` and restart docker, or run without " .. option
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
