-- run_options: `docker run` options from a project's files (`# dstack: run-options=` and
-- `test-options=`), read as docker's CLI reads them and judged by an allow-list.
--
-- The words are parsed with the grammar of Go's pflag, which docker uses (`--name=value`,
-- `--name value`, `-n value`, `-nvalue`, `-n=value`, grouped short options, booleans as
-- `--rm`, `--rm=false`), and `--mount` values as docker's CSV records (quoted fields,
-- keys in any case). Each option is then judged: the options on a short list stay inside
-- the container and pass as they are; every other option, and every spelling that cannot
-- be judged, reaches the host and needs the user's allow (lib/allowances.lua); a few are never
-- passed. What docker gets is never the file's text: it is dstack's own spelling of what
-- was judged (`--name=value`, one word each; mounts with their sources resolved), so
-- docker can only do what dstack judged.
--
--   local run_options = require("run_options")
--   local judged = run_options.judge(words, {root = ROOT, where = "run-options in FILE"})
--   -- judged[i] = {text, says, needs = WHY | nil, never = WHY | nil, words, allowed_words}
--   local words = run_options.words(judged, allowed)
local M = {}

-- docker run's options (docker 20.10 to 28, `docker run --help`), and the hidden
-- spellings it still reads (`--net`, `--net-alias`). An option not here is refused: dstack
-- cannot tell whether it takes a value, so it cannot tell what docker would read.
local booleans = {
  "detach", "disable-content-trust", "help", "init", "interactive", "no-healthcheck", "oom-kill-disable", "privileged",
  "publish-all", "quiet", "read-only", "rm", "sig-proxy", "tty", "use-api-socket",
}
local with_values = {
  "add-host", "attach", "blkio-weight", "blkio-weight-device", "cap-add", "cap-drop", "cgroup-parent", "cgroupns",
  "cidfile", "cpu-period", "cpu-quota", "cpu-rt-period", "cpu-rt-runtime", "cpu-shares", "cpus", "cpuset-cpus",
  "cpuset-mems", "detach-keys", "device", "device-cgroup-rule", "device-read-bps", "device-read-iops",
  "device-write-bps", "device-write-iops", "dns", "dns-option", "dns-search", "domainname", "entrypoint", "env",
  "env-file", "expose", "gpus", "group-add", "health-cmd", "health-interval", "health-retries", "health-start-period",
  "health-timeout", "hostname", "ip", "ip6", "ipc", "isolation", "kernel-memory", "label", "label-file", "link",
  "link-local-ip", "log-driver", "log-opt", "mac-address", "memory", "memory-reservation", "memory-swap",
  "memory-swappiness", "mount", "name", "network", "network-alias", "oom-score-adj", "pid", "pids-limit", "platform",
  "publish", "pull", "restart", "runtime", "security-opt", "shm-size", "stop-signal", "stop-timeout", "storage-opt",
  "sysctl", "tmpfs", "ulimit", "user", "userns", "uts", "volume", "volume-driver", "volumes-from", "workdir",
}
M.shorthands = {
  a = "attach", c = "cpu-shares", d = "detach", e = "env", h = "hostname", i = "interactive", l = "label", m = "memory",
  p = "publish", P = "publish-all", q = "quiet", t = "tty", u = "user", v = "volume", w = "workdir",
}
local aliases = {net = "network", ["net-alias"] = "network-alias"}

-- name -> "boolean" or "value".
M.kinds = {}
for _, name in ipairs(booleans) do M.kinds[name] = "boolean" end
for _, name in ipairs(with_values) do M.kinds[name] = "value" end

-- The spellings of the options that take a value (`--name`, `-n`), as a set: the command
-- line's docker options are passed through with them (lib/runner.lua).
M.takes_value = {}
for _, name in ipairs(with_values) do M.takes_value["--" .. name] = true end
for letter, name in pairs(M.shorthands) do
  if M.kinds[name] == "value" then M.takes_value["-" .. letter] = true end
end
for alias, name in pairs(aliases) do M.takes_value["--" .. alias] = M.takes_value["--" .. name] end

-- docker's default for a boolean option that is not false by default.
local true_by_default = {["sig-proxy"] = true, ["disable-content-trust"] = true}

-- Go's strconv.ParseBool, which pflag uses for `--name=VALUE` of a boolean.
local parse_bool = {
  ["1"] = true, t = true, T = true, TRUE = true, ["true"] = true, True = true,
  ["0"] = false, f = false, F = false, FALSE = false, ["false"] = false, False = false,
}

-- The options in `words` as docker's CLI reads them: a list of {name (the long name),
-- value (a string, or a boolean), text (as written)}. Raises one line, starting with
-- `where`, for a word that is not an option, an option docker does not have, one in the
-- set `refused` (`--NAME`: dstack's own), a missing value or a boolean that is not one.
function M.parse(words, where, refused)
  local parsed = {}
  local index = 1
  local function fail(message) error(where .. ": " .. message, 0) end
  local function add(name, written, value, text)
    local long = aliases[name] or name
    if refused and refused["--" .. name] and not M.kinds[long] then
      fail("--" .. name .. " is dstack's own option; project files may hold docker options only")
    end
    local kind = M.kinds[long]
    if not kind then
      fail("'" .. written .. "' in '" .. text .. "' is not a docker run option dstack knows "
        .. "(`docker run --help` lists them); write it on the command line instead")
    end
    if kind == "boolean" then
      if value == nil then
        value = true
      else
        local flag = parse_bool[value]
        if flag == nil then fail(text .. ": " .. written .. " is true or false, not '" .. value .. "'") end
        value = flag
      end
    elseif value == nil then
      value = words[index + 1]
      if value == nil then fail(written .. " needs a value") end
      text = text .. " " .. value
      index = index + 1
    end
    parsed[#parsed + 1] = {name = long, value = value, text = text}
  end
  while index <= #words do
    local word = words[index]
    if word:sub(1, 1) ~= "-" or word == "-" or word == "--" then
      fail("'" .. word .. "' is not an option; project files may hold options only "
        .. "(the image and command are the command line's)")
    end
    if word:sub(1, 2) == "--" then
      local name, value = word:sub(3):match("^([^=]*)=(.*)$")
      name = name or word:sub(3)
      if name == "" or name:sub(1, 1) == "-" then fail("'" .. word .. "' is not an option") end
      add(name, "--" .. name, value, word)
    else
      -- Short options, grouped as pflag reads them: each letter up to the first that takes
      -- a value, which takes the rest of the word (a leading `=` dropped), or the next word.
      local rest = word:sub(2)
      while rest ~= "" do
        local letter = rest:sub(1, 1)
        local name = M.shorthands[letter]
        if not name then fail("'-" .. letter .. "' in '" .. word .. "' is not a docker run option") end
        local value
        if #rest > 2 and rest:sub(2, 2) == "=" then
          value, rest = rest:sub(3), ""
        elseif M.kinds[name] == "boolean" then
          rest = rest:sub(2)
        elseif #rest > 1 then
          value, rest = rest:sub(2), ""
        else
          rest = ""
        end
        add(name, "-" .. letter, value, word)
      end
    end
    index = index + 1
  end
  return parsed
end

-- A `--mount` value as docker reads it (a CSV record): its fields as `{key, value}`, keys
-- lower-cased, a field without `=` with value nil. Nil when the record is not valid CSV.
local function csv_fields(text)
  local fields, position = {}, 1
  while true do
    local field
    if text:sub(position, position) == '"' then
      local parts, at = {}, position + 1
      while true do
        local quote = text:find('"', at, true)
        if not quote then return nil end
        parts[#parts + 1] = text:sub(at, quote - 1)
        if text:sub(quote + 1, quote + 1) == '"' then
          parts[#parts + 1] = '"'
          at = quote + 2
        else
          position = quote + 1
          break
        end
      end
      field = table.concat(parts)
      local after = text:sub(position, position)
      if after ~= "," and after ~= "" then return nil end
    else
      local comma = text:find(",", position, true) or (#text + 1)
      field = text:sub(position, comma - 1)
      if field:find('"', 1, true) then return nil end
      position = comma
    end
    local key, value = field:match("^([^=]*)=(.*)$")
    fields[#fields + 1] = {key = (key or field):lower(), value = value}
    if text:sub(position, position) ~= "," then return fields end
    position = position + 1
  end
end

-- Verdicts. `says` is what docker will do; `words` what docker gets for it.
local function inside_only(says, ...) return {says = says, words = {...}} end
local function needs(why) return {says = why, needs = why} end
local function never(why) return {says = why, never = why} end

-- A path value dstack can write back into a `--mount` record unchanged.
local function plain(value) return value ~= "" and not value:find('[,"]') end

-- Where the host path `source` leads, judged as the kernel resolves it: `{real}` for a
-- path inside the project, else `{outside = WHY, real = PATH or nil}`. A relative source
-- is relative to the project's root; one the user cannot resolve (a missing component,
-- a link into a folder the user cannot read) counts as outside.
local function host_source(source, root)
  local fs = dstack.fs
  if source:sub(1, 1) == "~" then return {outside = "mounts " .. source .. " (a home folder) from the host"} end
  local path = source:sub(1, 1) == "/" and source or fs.join(root, source)
  local real = fs.realpath(path)
  if not real then
    return {outside = "mounts " .. source .. ", which cannot be resolved as you (missing, or behind a folder you "
      .. "cannot read)"}
  end
  local real_root = fs.realpath(root) or root
  if real == real_root or real:sub(1, #real_root + 1) == real_root .. "/" then return {real = real} end
  return {outside = "mounts " .. real .. " from outside the project", real = real}
end

-- A field of a `--mount` record, quoted as CSV when it must be.
local function csv_field(text)
  if text:find('[,"]') then return '"' .. text:gsub('"', '""') .. '"' end
  return text
end

-- A mount judged from its parts: `kind` (bind, volume, tmpfs), `source`, `target`,
-- `readonly`, and `extra`, its other settings as written ("key" or "key=value"), which
-- keep it off the short list. Once allowed, docker gets it as one `--mount` record with
-- a host source as the kernel resolves it now (a link swapped later changes it, and so
-- the allow), else as written (relative to the project's root).
local function judge_mount(mount, root)
  local where = mount.kind == "bind" and host_source(mount.source or "", root) or {}
  local fields = {"type=" .. mount.kind}
  local source = where.real or (mount.source and mount.kind == "bind" and mount.source:sub(1, 1) ~= "~"
    and dstack.fs.join(root, mount.source)) or mount.source
  if source then fields[#fields + 1] = csv_field("source=" .. source) end
  if mount.target then fields[#fields + 1] = csv_field("target=" .. mount.target) end
  if mount.readonly then fields[#fields + 1] = "readonly" end
  for _, key in ipairs({"tmpfs-size", "tmpfs-mode"}) do
    if mount[key] then fields[#fields + 1] = csv_field(key .. "=" .. mount[key]) end
  end
  for _, extra in ipairs(mount.extra) do fields[#fields + 1] = csv_field(extra) end
  local record = "--mount=" .. table.concat(fields, ",")
  local function verdict(result)
    result.allowed_words = {record}
    result.resolved = where.real
    return result
  end

  local target = mount.target
  if not target or target:sub(1, 1) ~= "/" or not plain(target) then
    return verdict(needs("mounts at " .. tostring(target) .. ", a target dstack cannot judge (an absolute path "
      .. "without commas or quotes)"))
  end
  if mount.kind ~= "tmpfs" and (mount["tmpfs-size"] or mount["tmpfs-mode"]) then
    mount.extra[#mount.extra + 1] = mount["tmpfs-size"] and "tmpfs-size" or "tmpfs-mode"
  end
  if #mount.extra > 0 then
    return verdict(needs("a " .. mount.kind .. " mount with " .. table.concat(mount.extra, ", ")
      .. " (only source, target, readonly and a tmpfs's size and mode stay inside the container)"))
  end
  if mount.kind == "bind" then
    if where.outside then return verdict(needs(where.outside)) end
    if not plain(where.real) then
      return verdict(needs("mounts " .. where.real .. ", a path with a comma or a quote"))
    end
    return verdict(inside_only("mounts " .. where.real .. " (in the project) at " .. target, record))
  elseif mount.kind == "volume" then
    if not mount.source then return verdict(inside_only("mounts a new anonymous volume at " .. target, record)) end
    if not mount.source:match("^[%w][%w_.-]*$") then
      return verdict(needs("mounts volume " .. mount.source .. ", a name docker does not take for a volume"))
    end
    return verdict(inside_only("mounts volume " .. mount.source .. " at " .. target, record))
  elseif mount.kind == "tmpfs" and not mount.source
    and (mount["tmpfs-size"] or "0"):match("^%w+$") and (mount["tmpfs-mode"] or "0"):match("^%d+$") then
    return verdict(inside_only("mounts a tmpfs at " .. target, record))
  end
  return verdict(needs("a mount of type " .. mount.kind))
end

local mount_keys = {
  type = "type", source = "source", src = "source", target = "target", dst = "target", destination = "target",
  readonly = "readonly", ro = "readonly", ["tmpfs-size"] = "tmpfs-size", ["tmpfs-mode"] = "tmpfs-mode",
}

-- `--mount VALUE`.
local function judge_mount_option(value, root)
  local fields = csv_fields(value)
  if not fields then
    local verdict = needs("a --mount value that is not a valid CSV record")
    verdict.allowed_words = {"--mount=" .. value}
    return verdict
  end
  local mount = {kind = "volume", extra = {}}
  for _, field in ipairs(fields) do
    local key = mount_keys[field.key]
    local flag = key == "readonly" and (field.value == nil or parse_bool[field.value])
    if key == "readonly" and flag ~= nil then
      mount.readonly = flag
    elseif key == "type" and field.value then
      mount.kind = field.value:lower()
    elseif key and key ~= "readonly" and field.value then
      mount[key] = field.value
    else
      mount.extra[#mount.extra + 1] = field.key .. (field.value and ("=" .. field.value) or "")
    end
  end
  return judge_mount(mount, root)
end

-- `-v`/`--volume VALUE`: `[SOURCE:]TARGET[:MODES]` as the engine reads it on Linux; a
-- SOURCE that starts with `/` or `.` is a host path, another is a volume's name. Judged,
-- and handed to docker, as the `--mount` it means.
local function judge_volume_option(value, root)
  local parts = {}
  for part in (value .. ":"):gmatch("([^:]*):") do parts[#parts + 1] = part end
  local source, target, modes
  if #parts == 1 then
    target = parts[1]
  elseif #parts == 2 and parts[2]:sub(1, 1) ~= "/" then
    target, modes = parts[1], parts[2]
  elseif #parts == 2 then
    source, target = parts[1], parts[2]
  elseif #parts == 3 then
    source, target, modes = parts[1], parts[2], parts[3]
  else
    local verdict = needs("a --volume value dstack cannot judge (SOURCE:TARGET[:ro])")
    verdict.allowed_words = {"--volume=" .. value}
    return verdict
  end
  local mount = {target = target, extra = {}}
  for mode in (modes or ""):gmatch("[^,]+") do
    if mode == "ro" then
      mount.readonly = true
    elseif mode ~= "rw" then
      mount.extra[#mount.extra + 1] = mode
    end
  end
  if source and (source:sub(1, 1) == "/" or source:sub(1, 1) == "." or source:sub(1, 1) == "~") then
    mount.kind, mount.source = "bind", source
  else
    mount.kind, mount.source = "volume", source
  end
  local verdict = judge_mount(mount, root)
  if #mount.extra > 0 then
    -- Modes a --mount record does not take (z, Z, propagation): docker gets -v's spelling.
    local host = source
    if mount.kind == "bind" then
      host = verdict.resolved or (source:sub(1, 1) == "." and dstack.fs.join(root, source)) or source
    end
    local rest = source and value:sub(#source + 2) or value
    verdict.allowed_words = {"--volume=" .. (host and (host .. ":") or "") .. rest}
  end
  return verdict
end

-- `-p`/`--publish VALUE`: `[ADDRESS:][HOST_PORT:]PORT[/PROTOCOL]`. Published on 127.0.0.1
-- unless the file is allowed (then as written, on every address when none is written).
local function judge_publish(value)
  local parts = {}
  for part in (value .. ":"):gmatch("([^:]*):") do parts[#parts + 1] = part end
  local address, host_port, port
  if #parts == 1 then
    address, host_port, port = "", "", parts[1]
  elseif #parts == 2 then
    address, host_port, port = "", parts[1], parts[2]
  elseif #parts == 3 then
    address, host_port, port = parts[1], parts[2], parts[3]
  else
    return needs("publishes " .. value .. ", an address dstack cannot judge (write 127.0.0.1:PORT:PORT)")
  end
  if not port:match("^%d+%-?%d*/?%a*$") or not host_port:match("^%d*%-?%d*$") then
    return needs("publishes " .. value .. ", ports dstack cannot judge")
  end
  if address ~= "" and address ~= "127.0.0.1" then
    return needs("publishes port " .. port .. " on " .. address .. ", where other machines may reach it")
  end
  local loopback = "127.0.0.1:" .. host_port .. ":" .. port
  local verdict = inside_only("publishes port " .. port .. " on 127.0.0.1 (this machine only)", "--publish=" .. loopback)
  if address == "" then
    verdict.says = verdict.says .. "; once allowed, on every address"
    verdict.allowed_words = {"--publish=" .. value}
  end
  return verdict
end

-- `-u`/`--user VALUE`: a uid other than 0 (and a gid other than 0) stays on the list; a
-- name may be root in the image.
local function judge_user(value)
  local uid, gid = value:match("^(%d+):?(%d*)$")
  if uid and uid:match("^[1-9]") and (gid == "" or gid:match("^[1-9]")) then
    return inside_only("runs as uid " .. value, "--user=" .. value)
  end
  local name = value:match("^([^:]*)")
  if name == "root" or (tonumber(name) == 0) then return needs("runs as root") end
  return needs("runs as " .. value .. " (a name the image may give uid 0; write a uid other than 0 instead)")
end

-- `--network`, `--pid`, `--ipc`, `--uts`, `--userns`, `--cgroupns VALUE`.
local function judge_namespace(name, value)
  if name == "network" and value == "none" then return inside_only("gives the container no network", "--network=none") end
  if name == "network" and (value == "bridge" or value == "default") then
    return inside_only("connects the container to docker's default network", "--network=" .. value)
  end
  if value == "host" then return needs("shares the host's " .. name .. " namespace") end
  local other = value:match("^container:(.*)$")
  if other then return needs("joins container " .. other .. "'s " .. name .. " namespace") end
  if name == "network" then return needs("connects the container to network " .. value) end
  return needs("sets the container's " .. name .. " namespace to " .. value)
end

-- Options that stay inside the container whatever their value: name -> what docker does.
local inside_options = {
  workdir = "sets the working folder", ["shm-size"] = "limits /dev/shm", memory = "limits memory",
  ["memory-reservation"] = "limits memory", ["memory-swap"] = "limits swap", cpus = "limits CPUs",
  ["cpu-shares"] = "weights CPU time", ["pids-limit"] = "limits processes", tmpfs = "mounts a tmpfs",
  hostname = "sets the host name", ["add-host"] = "adds a line to /etc/hosts", ulimit = "sets a resource limit",
  expose = "declares a port", ["stop-signal"] = "sets the stop signal", ["stop-timeout"] = "sets the stop timeout",
  name = "names the container", platform = "picks the image's platform", ["cap-drop"] = "drops a capability",
  ["health-cmd"] = "sets the health check", ["health-interval"] = "sets the health check",
  ["health-retries"] = "sets the health check", ["health-start-period"] = "sets the health check",
  ["health-timeout"] = "sets the health check", domainname = "sets the domain name",
}

-- Booleans that stay inside the container either way.
local inside_booleans = {
  init = true, interactive = true, tty = true, ["read-only"] = true, detach = true, ["no-healthcheck"] = true,
  ["sig-proxy"] = true, quiet = true, ["disable-content-trust"] = true,
}

-- Why a boolean reaches the host when true.
local host_booleans = {
  privileged = "gives the container every privilege of the host",
  ["publish-all"] = "publishes every exposed port on every address",
  ["oom-kill-disable"] = "turns off the host's out-of-memory killer for the container",
  ["use-api-socket"] = "gives the container docker's API socket, which is root on this machine",
}

-- Why other options reach the host: name -> function(value) or text.
local host_reasons = {
  ["cap-add"] = "adds capability %s", device = "gives the container host device %s",
  ["device-cgroup-rule"] = "lets the container use host devices (%s)",
  ["security-opt"] = "changes the container's security profile (%s)",
  ["volumes-from"] = "mounts every volume of container %s",
  link = "links container %s, copying its environment (secrets included)",
  ["env-file"] = "reads %s on your machine into the container's environment",
  cidfile = "writes the container's ID to %s on your machine",
  ["log-driver"] = "sends the container's output to log driver %s", ["log-opt"] = "sets log option %s on the host",
  gpus = "gives the container GPUs (%s)", runtime = "runs the container with runtime %s",
  sysctl = "sets kernel parameter %s", ["cgroup-parent"] = "places the container in host cgroup %s",
  ["group-add"] = "adds the container's user to group %s",
  restart = "restarts the container after it ends (%s), so it stays", ["volume-driver"] = "uses volume driver %s",
  ["storage-opt"] = "sets storage option %s",
}

-- The verdict on one parsed option (see `judge`).
local function judge_one(option, root)
  local name, value = option.name, option.value
  if type(value) == "boolean" then
    if name == "rm" then
      if value then return inside_only("removes the container when it ends", "--rm") end
      return never("--rm=false would leave the container behind")
    end
    if name == "help" then return never("--help would replace the run with docker's help") end
    local word = (value == (true_by_default[name] or false)) and {} or {value and ("--" .. name) or ("--" .. name .. "=false")}
    if inside_booleans[name] or not value then
      return {says = (value and "turns on " or "turns off ") .. name, words = word}
    end
    local verdict = needs(host_booleans[name]
      or ("--" .. name .. " is not on dstack's list of options that stay inside the container"))
    verdict.allowed_words = word
    return verdict
  end
  if name == "env" then
    local variable = value:match("^([^=]+)=")
    if variable then return inside_only("sets " .. variable .. " in the container", "--env=" .. value) end
    return needs("copies your own " .. value .. " variable into the container")
  elseif name == "label" then
    if value:lower():match("^io%.dstack%.") then
      return never("io.dstack.* labels are dstack's own (ps, stop and logs find its containers by them)")
    end
    return inside_only("labels the container " .. value, "--label=" .. value)
  elseif name == "label-file" then
    return never("a label file's labels cannot be judged; write --label=KEY=VALUE instead")
  elseif name == "entrypoint" then
    return never("--entrypoint replaces the image's command; set ENTRYPOINT in the Dockerfile instead")
  elseif name == "mount" then
    return judge_mount_option(value, root)
  elseif name == "volume" then
    return judge_volume_option(value, root)
  elseif name == "publish" then
    return judge_publish(value)
  elseif name == "user" then
    return judge_user(value)
  elseif name == "network" or name == "pid" or name == "ipc" or name == "uts" or name == "userns"
    or name == "cgroupns" then
    return judge_namespace(name, value)
  elseif inside_options[name] then
    return inside_only(inside_options[name] .. " (" .. value .. ")", "--" .. name .. "=" .. value)
  end
  local reason = host_reasons[name]
  return needs(reason and reason:format(value)
    or ("--" .. name .. " is not on dstack's list of options that stay inside the container"))
end

-- The options in `words` (see `parse`), each judged: `{text, says, needs, never, words,
-- allowed_words, resolved}`. `where.root` is the project, `where.where` names the setting
-- in errors, `where.refused` is a set of dstack's own option names. A boolean's earlier
-- spellings are dropped (docker takes the last).
function M.judge(words, where)
  local parsed = M.parse(words, where.where, where.refused)
  local last = {}
  for index, option in ipairs(parsed) do
    if type(option.value) == "boolean" then last[option.name] = index end
  end
  local judged = {}
  for index, option in ipairs(parsed) do
    if type(option.value) ~= "boolean" or last[option.name] == index then
      local verdict = judge_one(option, where.root)
      verdict.text = option.text
      if verdict.never then
        verdict.allowed_words = {}
      else
        verdict.allowed_words = verdict.allowed_words or verdict.words or {"--" .. option.name .. "=" .. option.value}
      end
      judged[#judged + 1] = verdict
    end
  end
  return judged
end

-- The words docker gets for `judged`: with `allowed` (the user allowed the file as it is
-- now), every option but those never passed; else only those that stay inside.
function M.words(judged, allowed)
  local words = {}
  for _, verdict in ipairs(judged) do
    local given = verdict.never and {} or allowed and verdict.allowed_words or verdict.words or {}
    table.move(given, 1, #given, #words + 1, words)
  end
  return words
end

return M
