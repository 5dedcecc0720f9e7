-- doctor: checks that this machine is ready for dstack and says what to fix.
-- Usage: dstack run-script doctor
dstack.require_api(3) -- lib/trust.lua: dstack.fs.counts

local failures = 0

local function report(ok, what, detail)
  print(string.format("%-6s %s%s", ok and "ok" or "FAIL", what, detail and (": " .. detail) or ""))
  if not ok then failures = failures + 1 end
end

report(true, "dstack", string.format("%s, host API level %d", dstack.host_version, dstack.api))
report(true, "scripts", dstack.script.origin)

-- docker.info stops the script with the cause and the fix when docker is unusable.
local info, message = require("docker").info()
report(info ~= nil, "docker engine", info and string.format("%s on %s/%s", info.ServerVersion, info.OSType, info.Architecture) or message)
local engine = info and require("docker").engine()
if engine then
  print(string.format("%-6s %s: %s", "info", "engine kind", engine.name .. (engine.rootless
    and " (a container's root is you on the host: a project reaches only what you can)"
    or " (runs as root: being in its group is being root on this machine)")))
  if engine.rootless then
    local gaps = require("docker").rootless_gaps(engine)
    report(#gaps == 0, "rootless engine needs", #gaps == 0 and "uidmap, subordinate ids, slirp4netns, /dev/net/tun"
      .. (engine.podman and ", catatonit" or "") or table.concat(gaps, "; "))
  end
end

if info then
  local runtimes = {}
  for name in pairs(info.Runtimes or {}) do runtimes[#runtimes + 1] = name end
  table.sort(runtimes)
  local has_gpu = (info.Runtimes or {}).nvidia ~= nil
  print(string.format("%-6s %s: %s", "info", "GPU support", has_gpu and "nvidia runtime present"
    or "none (for --gpu install nvidia-container-toolkit, then run nvidia-ctk runtime configure --runtime=docker)"))
  print(string.format("%-6s %s: %s", "info", "runtimes", table.concat(runtimes, ", ")))
  -- The cluster for `submit` (DSTACK_CLUSTER or the project's cluster setting, else this engine).
  local swarm = require("swarm")
  swarm.use(swarm.choose_context())
  local ok, lines = pcall(swarm.doctor_lines)
  for _, line in ipairs(ok and lines or {"swarm: " .. tostring(lines)}) do print(string.format("%-6s %s", "info", line)) end
end

local user = dstack.env.user()
print(string.format("%-6s %s: %s (uid %d, gid %d), %s/%s, time zone %s", "info", "user", user.name, user.uid, user.gid,
  dstack.env.os(), dstack.env.arch(), dstack.env.timezone() or "unknown"))

if user.uid == 0 then
  print(string.format("%-6s %s: %s", "info", "container user", "you are root, so containers of images with a user "
    .. "run as root (with that user's home): files in the work folders stay root's"))
elseif engine and engine.rootless then
  print(string.format("%-6s %s: %s", "info", "container user", "containers of images with a user run as the "
    .. "container's root (with that user's home), which is you on the host: files in the work folders are yours"))
else
  print(string.format("%-6s %s: %s", "info", "container user", string.format("an image's user gets your uid %d "
    .. "and gid %d and keeps its group (a derived image dstack-user/NAME whose one layer is /etc/passwd and "
    .. "/etc/group, made once per image version), so files in the work folders are yours", user.uid, user.gid)))
end

-- The project here, if any, and the lock its builds install from.
local root, kind = require("packages").find(dstack.fs.cwd())
if root then
  local settings = kind == "package" and require("packages").read(root).settings or require("project").settings(root)
  local found, lock, why = pcall(require("locks").find, root, settings)
  print(string.format("%-6s %s: %s (%s)", "info", "project", root, kind))
  if not found then
    report(false, "lock", lock)
  elseif why ~= "no pyproject.toml" then
    print(string.format("%-6s %s: %s", "info", "lock", lock and (lock.name .. " (" .. lock.digest .. ")")
      or ("none: builds take the newest versions pyproject.toml allows (" .. why .. "; `dstack run-script lock` "
        .. "writes uv.lock)")))
  end
end

-- What the derived images hold of their own (their parents' layers are shared).
if info then
  local docker = require("docker")
  local all = dstack.docker.query({"image", "ls", "--filter", "label=" .. docker.derived_from_label, "--format",
    "{{json .}}"}, {json = true}) or {}
  -- Yours only: a derived image's tag ends with the uid and gid it was made for.
  local rows = {}
  for _, row in ipairs(all) do
    if (row.Tag or ""):sub(-#(user.uid .. "-" .. user.gid) - 1) == "-" .. user.uid .. "-" .. user.gid then
      rows[#rows + 1] = row
    end
  end
  local own = 0
  for _, row in ipairs(rows) do
    local derived = dstack.docker.inspect_image(row.ID)
    local parent = derived and dstack.docker.inspect_image(derived.Config.Labels[docker.derived_from_label])
    if derived and parent then own = own + derived.Size - parent.Size end
  end
  print(string.format("%-6s %s: %d, holding %.1f kB of their own (`build --keep N` removes them with their "
    .. "versions)", "info", "derived images", #rows, own / 1000))
end

return failures == 0 and 0 or 1
