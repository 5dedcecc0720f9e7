-- containers: what the run, ps, stop, shell and logs scripts know about images, users,
-- docker run options and the containers dstack started.
local docker = require("docker")
local images = require("images")

local M = {}

-- Labels on every container the run script starts, so ps, stop, shell and logs find them.
M.labels = {user = "io.dstack.user", image = "io.dstack.image", version = "io.dstack.version"}

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

-- True when the image user `user` (`docker inspect`'s Config.User) is root as written:
-- none, `root` or uid 0, with or without a group. A name that only the image's
-- /etc/passwd maps to uid 0 is found by `with_host_user`.
function M.is_root_user(user)
  local name = user and user:match("^([^:]*)")
  return name == nil or name == "" or name == "root" or name == "0"
end

-- The regular files in `archive`, a tar stream as `docker cp CONTAINER:PATH -` writes it:
-- `{name = contents}`.
local function files_in_tar(archive)
  local files, offset = {}, 1
  while offset + 511 <= #archive do
    local name = archive:sub(offset, offset + 99):match("^[^%z]*")
    if name == "" then break end
    local size = tonumber((archive:sub(offset + 124, offset + 135):gsub("[^0-7]", "")), 8) or 0
    local kind = archive:sub(offset + 156, offset + 156)
    if kind == "0" or kind == "\0" then files[name] = archive:sub(offset + 512, offset + 511 + size) end
    offset = offset + 512 + math.ceil(size / 512) * 512
  end
  return files
end

-- The lines of an /etc/passwd or /etc/group file, each split at `:`.
local function colon_lines(text)
  local lines = {}
  for line in text:gmatch("[^\n]+") do
    local fields = {}
    for field in (line .. ":"):gmatch("([^:]*):") do fields[#fields + 1] = field end
    lines[#lines + 1] = fields
  end
  return lines
end

local function join_lines(lines)
  local text = {}
  for _, fields in ipairs(lines) do text[#text + 1] = table.concat(fields, ":") end
  return table.concat(text, "\n") .. "\n"
end

-- /etc/passwd and /etc/group of container `id` (one `docker cp` of /etc, read as a tar
-- stream: links in it are not followed, so nothing outside the image is read); nil and a
-- message when there is no such file.
local function read_user_files(id)
  local archive, problem = dstack.docker.query({"cp", "--follow-link", id .. ":/etc", "-"})
  if not archive then return nil, problem end
  local files = files_in_tar(archive)
  if not files["etc/passwd"] then return nil, "/etc/passwd is not a file" end
  return files["etc/passwd"], files["etc/group"] or ""
end

-- /etc/passwd and /etc/group of container `id` with the entry of image user `user` given
-- the host's uid and gid and kept in its own group (so it can still write what that group
-- may write). Returns the passwd entry's fields and the two new texts, `{uid = 0}` when
-- the image's user is root by another name, or nil and a message.
local function user_files(id, user, host)
  local passwd, group = read_user_files(id)
  if not passwd then return nil, "cannot read the image's /etc/passwd (" .. group .. ")" end
  local name = user:match("^([^:]*)")
  local users, groups = colon_lines(passwd), colon_lines(group)
  local entry
  for _, fields in ipairs(users) do
    if #fields >= 7 and (fields[1] == name or (name:match("^%d+$") and fields[3] == name)) then
      entry = fields
      break
    end
  end
  if not entry then return nil, "user " .. name .. " is not in the image's /etc/passwd" end
  if tonumber(entry[3]) == 0 then return {uid = 0} end
  local old_gid = entry[4]
  entry[3], entry[4] = tostring(host.uid), tostring(host.gid)
  local has_host_group = false
  for _, fields in ipairs(groups) do
    if fields[3] == old_gid and #fields >= 3 then
      local members = fields[4] or ""
      local listed = false
      for member in members:gmatch("[^,]+") do listed = listed or member == entry[1] end
      if not listed then fields[4] = members == "" and entry[1] or (members .. "," .. entry[1]) end
    end
    has_host_group = has_host_group or fields[3] == tostring(host.gid)
  end
  if not has_host_group then groups[#groups + 1] = {"dstack-host", "x", tostring(host.gid), ""} end
  return {name = entry[1], home = entry[6]}, join_lines(users), join_lines(groups)
end

-- `image` (inspected as `inspected`) with its user `user` given the uid and gid of `host`
-- (from dstack.env.user), as Dev Containers' `updateRemoteUserUID` does, but cheaper: an
-- image derived once per image ID and uid (`dstack-user/NAME:ID-UID-GID`) whose only layer
-- is the changed /etc/passwd and /etc/group (made with `docker create`, `cp` and `commit`;
-- no container runs). The user keeps its group, so it can still write what the image made
-- group-writable for it (py3's virtual environment and home). Returns `{image, user, home}`,
-- `{root = true}` when the image's user is uid 0 by another name, or nil and why it could
-- not be made.
function M.with_host_user(image, inspected, user, host)
  if not inspected then return {image = image, user = user} end -- a dry run of an image it would pull
  local name = assert(dstack.docker.parse_reference(image)).repository:match("([^/]+)$")
  local id = inspected.Id:gsub("^sha256:", "")
  local derived = string.format("dstack-user/%s:%s-%d-%d", name, id:sub(1, 12), host.uid, host.gid)
  local existing = dstack.docker.inspect_image(derived)
  local labels = existing and existing.Config.Labels or {}
  if existing and labels[docker.derived_from_label] == inspected.Id then
    return {image = derived, user = existing.Config.User, home = labels["io.dstack.home"]}
  end
  if dstack.is_dry_run() then
    dstack.log.info("would give " .. user .. " in " .. image .. " your uid " .. host.uid .. " as " .. derived)
    return {image = derived, user = user}
  end
  local config = inspected.Config or {}
  -- Created from the image ID that was inspected, so a tag moved meanwhile changes nothing;
  -- never started (an image without a command gets one, never run, to be created at all).
  local create = {"--label=io.dstack.derivation=1", inspected.Id}
  if not config.Cmd and not config.Entrypoint then create[#create + 1] = "true" end
  local created, problem = docker.create(create)
  if not created then return nil, "cannot give " .. user .. " in " .. image .. " your uid (" .. problem .. ")" end
  local result
  local ok, failure = pcall(function()
    local entry, passwd, group = user_files(created, user, host)
    if not entry then error(passwd, 0) end
    if entry.uid == 0 then
      result = {root = true}
      return
    end
    dstack.log.info("giving " .. user .. " in " .. image .. " your uid " .. host.uid .. " (once per image version)")
    -- Both files in one copy into /etc: a folder of mode 755, as /etc is, with just them.
    local folder = dstack.fs.join(assert(dstack.fs.tmpdir()), "etc")
    assert(dstack.fs.mkdir(folder))
    assert(dstack.fs.write(dstack.fs.join(folder, "passwd"), passwd, {mode = "644"}))
    assert(dstack.fs.write(dstack.fs.join(folder, "group"), group, {mode = "644"}))
    local copied, why = docker.copy(folder .. "/.", created .. ":/etc")
    dstack.fs.remove(dstack.fs.dirname(folder), {recursive = true})
    if not copied then error(why, 0) end
    local committed
    committed, why = docker.commit(created, derived, {
      "USER " .. entry.name,
      "LABEL " .. docker.derived_from_label .. "=" .. inspected.Id .. " io.dstack.uid=" .. host.uid
        .. " io.dstack.home=" .. dstack.json.encode(entry.home),
    })
    if not committed then error(why, 0) end
    result = {image = derived, user = entry.name, home = entry.home}
  end)
  docker.remove_container(created)
  if not ok then return nil, "cannot give " .. user .. " in " .. image .. " your uid (" .. tostring(failure) .. ")" end
  return result
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

-- `words` (canonical docker options, `--env=NAME=VALUE` each) with the environment moved into
-- an env file only this user can read, in a folder of the script's that goes when it ends:
-- a command line is shown to every user of the machine (`ps`), an env file is not. The file
-- comes last among env files, so its values win over theirs as `--env` values do. A setting
-- an env file cannot hold (a line break, a name starting with a space or `#`) stays a word.
function M.private_environment(words)
  local kept, lines = {}, {}
  for _, word in ipairs(words) do
    local setting = word:match("^%-%-env=(.*)$")
    if setting and setting:match("^[^%s#=][^=]*") and not setting:find("[\r\n]") then
      lines[#lines + 1] = setting
    else
      kept[#kept + 1] = word
    end
  end
  if #lines == 0 then return words end
  local path = dstack.fs.join(dstack.fs.tmpdir(), "environment")
  assert(dstack.fs.write(path, table.concat(lines, "\n") .. "\n", {mode = "600"}))
  kept[#kept + 1] = "--env-file=" .. path
  return kept
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

-- Prints `rows` (lists of strings, the first the header) as aligned columns.
function M.print_table(rows)
  local widths = {}
  for _, row in ipairs(rows) do
    for column, cell in ipairs(row) do widths[column] = math.max(widths[column] or 0, utf8.len(cell) or #cell) end
  end
  for _, row in ipairs(rows) do
    local cells = {}
    for column, cell in ipairs(row) do
      cells[column] = column < #row and (cell .. string.rep(" ", widths[column] - (utf8.len(cell) or #cell))) or cell
    end
    print((table.concat(cells, "   "):gsub("%s+$", "")))
  end
end

return M
