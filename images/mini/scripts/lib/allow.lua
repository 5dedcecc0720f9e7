-- allow: docker options that come from a project's files (`# dstack: run-options=` and
-- `test-options=` in docker/Dockerfile, `test-options` in [tool.dstack] of pyproject.toml)
-- are input, not trust, as direnv treats .envrc: those that reach the host (a mount from
-- outside the project, --privileged, --pid/--ipc/--uts/--userns/--cgroupns=host,
-- --network=host, --cap-add, --device, --security-opt, --user root, --volumes-from, …) are
-- refused until the user allows that file with `dstack run-script allow`, which records
-- its path and content digest in $XDG_CONFIG_HOME/dstack/allowed.json (else
-- ~/.config/dstack); a changed file needs allowing again. Only options are taken: no
-- positional words, and none of dstack's own options. `# dstack: cluster=` (lib/swarm.lua)
-- needs the same: it picks which of the user's docker contexts receives a job.
--
--   local allow = require("allow")
--   local words = allow.options(text, {file = PATH, setting = "run-options", root = ROOT, refused = NAMES})
dstack.require_api(2) -- dstack.fs.digest

local containers = require("containers")

local M = {}

local with_values = containers.docker_options_with_values

-- Where allowed files are recorded.
function M.record_path()
  local config = dstack.env.get("XDG_CONFIG_HOME")
  if not config or config:sub(1, 1) ~= "/" then config = dstack.fs.join(dstack.fs.home(), ".config") end
  return dstack.fs.join(config, "dstack", "allowed.json")
end

-- The allowed files: path -> content digest.
local function allowed()
  local text = dstack.fs.read(M.record_path())
  local record = text and dstack.json.decode(text)
  return type(record) == "table" and record or {}
end

-- True when `path` (absolute, as a link-free path) with its links resolved lies in `root`.
local function inside(root, path)
  local fs = dstack.fs
  local real_root = fs.realpath(root) or root
  local real = fs.realpath(path) or fs.abspath(path)
  return real == real_root or real:sub(1, #real_root + 1) == real_root .. "/"
end

-- True when the host path `source` (as docker reads it: relative to the current folder)
-- is outside the project at `root`.
local function outside(root, source)
  if source:sub(1, 1) == "~" then return true end
  return not inside(root, dstack.fs.abspath(source))
end

-- Why option `name` with `value` reaches the host, or nil when it does not.
local function reaches_host(name, value, root)
  value = value or ""
  if name == "-v" or name == "--volume" then
    local source = value:match("^([^:]*):") or value
    if source:find("/", 1, true) or source:sub(1, 1) == "." or source:sub(1, 1) == "~" then
      if outside(root, source) then return "mounts " .. source .. " from outside the project" end
    end
  elseif name == "--mount" then
    local fields = {}
    for field in value:gmatch("[^,]+") do
      local key, setting = field:match("^([^=]+)=(.*)$")
      if key then fields[key] = setting end
    end
    local source = fields.source or fields.src
    if fields.type == "bind" and source and outside(root, source) then
      return "mounts " .. source .. " from outside the project"
    end
  elseif name == "--privileged" then
    if value ~= "false" then return "gives the container every privilege of the host" end
  elseif name == "--pid" or name == "--ipc" or name == "--uts" or name == "--userns" or name == "--cgroupns"
    or name == "--network" or name == "--net" then
    if value == "host" then return "shares the host's " .. name:sub(3) .. " namespace" end
  elseif name == "--cap-add" or name == "--device" or name == "--device-cgroup-rule" or name == "--security-opt"
    or name == "--volumes-from" then
    return "widens what the container may do on the host"
  elseif name == "-u" or name == "--user" then
    local user = value:match("^([^:]*)")
    if user == "0" or user == "root" then return "runs as root" end
  elseif name == "--env-file" or name == "--label-file" or name == "--cidfile" then
    if outside(root, value) then return "reads or writes " .. value .. " outside the project" end
  end
end

-- The options in `words`, each as {name, value, text}; raises one line for a word that is
-- not an option, an option missing its value, or one in the set `refused` (dstack's own).
local function parse(words, where, refused)
  local parsed = {}
  local index = 1
  local function take(name, value, text)
    if refused and refused[name] then
      error(where .. ": " .. name .. " is dstack's own option; project files may hold docker options only", 0)
    end
    if value == nil and with_values[name] then
      value = words[index + 1]
      if value == nil then error(where .. ": " .. name .. " needs a value", 0) end
      text = text .. " " .. value
      index = index + 1
    end
    parsed[#parsed + 1] = {name = name, value = value, text = text}
  end
  while index <= #words do
    local word = words[index]
    if word:sub(1, 1) ~= "-" or word == "-" or word == "--" then
      error(where .. ": '" .. word .. "' is not an option; project files may hold options only "
        .. "(the image and command are the command line's)", 0)
    end
    local name, inline = word:match("^(%-%-[^=]+)=(.*)$")
    if name or word:sub(1, 2) == "--" or #word == 2 then
      take(name or word, inline, word)
    else
      -- Short options written together (-it, -uroot, -dv/x:/y): a value runs to the end.
      for position = 2, #word do
        local short = "-" .. word:sub(position, position)
        if with_values[short] then
          local glued = word:sub(position + 1)
          take(short, glued ~= "" and glued or nil, word)
          break
        end
        take(short, nil, word)
      end
    end
    index = index + 1
  end
  return parsed
end

-- What the options in `words` ask for that reaches the host: a list of "OPTION (why)".
function M.host_options(words, root, where)
  local found = {}
  for _, option in ipairs(parse(words, where)) do
    local why = reaches_host(option.name, option.value, root)
    if why then found[#found + 1] = option.text .. " (" .. why .. ")" end
  end
  return found
end

-- The words of setting `text` from a project file, checked: `where.file` (its path),
-- `where.setting` (`run-options`, `test-options`), `where.root` (the project), and
-- `where.refused` (a set of dstack's own option names that may not appear). Raises one line
-- when a word is not an option, is one of dstack's, or reaches the host and the file is not
-- allowed as it is now.
function M.options(text, where)
  local words = {}
  for word in text:gmatch("%S+") do words[#words + 1] = word end
  local label = where.setting .. " in " .. where.file
  parse(words, label, where.refused)
  if dstack.is_dry_run() and #words > 0 then
    dstack.log.info("options from " .. label .. ": " .. table.concat(words, " "))
  end
  local host = M.host_options(words, where.root, label)
  if #host == 0 then return words end
  M.require(where.file, label .. " asks for options that reach the host: " .. table.concat(host, ", "),
    "read them, then allow them with `dstack run-script allow` in " .. where.root .. ", or remove them")
  return words
end

-- Returns when the file at `file` is allowed as it is now; else raises one line: `refusal`
-- (what the file asks for), that the file changed since it was allowed when it did, and
-- `advice` (what to do).
function M.require(file, refusal, advice)
  local recorded = allowed()[file]
  if recorded and recorded == dstack.fs.digest(file) then return end
  error(refusal .. "; " .. (recorded and "the file changed since you allowed it. " or "") .. advice, 0)
end

-- Why `# dstack: cluster=CONTEXT` in a project's file needs allowing: it would choose, for
-- the user, which of their docker contexts receives the job and their registry credentials.
function M.cluster_reason(context)
  return "picks docker context " .. context .. " for the job, which receives your registry credentials for its image"
end

-- Records the file at `path` as allowed with its content now; returns its digest.
function M.allow(path)
  local digest = assert(dstack.fs.digest(path))
  local record = allowed()
  record[path] = digest
  local file = M.record_path()
  assert(dstack.fs.mkdir(dstack.fs.dirname(file)))
  assert(dstack.fs.write(file, dstack.json.encode(record, {pretty = true}) .. "\n", {mode = "600"}))
  return digest
end

return M
