-- trust: whose files count, as git's safe.directory decides (and as the host does for
-- .dstack-mini). A walk up for a project stops at the first folder that belongs to neither
-- the user nor root, and a settings file (docker/Dockerfile, pyproject.toml) that another
-- user owns, or that other users can write, is ignored with a one-line warning naming it.
-- A file writable by its group counts when the group is the user's own private group
-- (useradd makes one with the user's id, and umask 002 makes files group-writable).
--
--   local trust = require("trust")
--   trust.walk_up(start, function(folder) ... end)   -- first non-nil result, or nil and the folder it stopped at
--   if trust.counts(path) then ... end               -- the file exists and counts (warns once when it does not)
dstack.require_api(2) -- `uid` and `gid` of dstack.fs.stat

local M = {}

local user = dstack.env.user()

-- True when `owner` is the user or root.
local function ours(owner)
  return owner == user.uid or owner == 0
end

-- Calls `visit(folder)` for `start` and each folder above it, up to the first that
-- belongs to neither the user nor root; returns the first result that is not nil. Else
-- nil and the folder the walk stopped at (nil when it reached /).
function M.walk_up(start, visit)
  local fs = dstack.fs
  local folder = fs.abspath(start)
  while true do
    local info = fs.stat(folder)
    if info and not ours(info.uid) then return nil, folder end
    local found, more = visit(folder)
    if found ~= nil then return found, more end
    if folder == "/" then return nil end
    folder = fs.dirname(folder)
  end
end

-- Why the file described by stat's `info` does not count, or nil when it does.
local function problem(info)
  if not ours(info.uid) then
    return "it belongs to uid " .. info.uid .. ", and dstack takes settings only from your own files and root's"
  end
  local group_may_write = info.mode & 16 ~= 0 and not (info.gid == user.gid and user.gid == user.uid)
  if info.mode & 2 ~= 0 or group_may_write then
    return string.format("other users can write it (mode %o); remove their write permission (chmod go-w) to use it",
      info.mode & 511)
  end
end

local warned = {}

-- True when the file at `path` exists and counts (and so does its folder). One that does
-- not is named once per run.
function M.counts(path)
  local info = dstack.fs.stat(path)
  if not info or info.type ~= "file" then return false end
  local folder = dstack.fs.stat(dstack.fs.dirname(path))
  local why = problem(info) or folder and not ours(folder.uid) and "its folder belongs to uid " .. folder.uid
    .. ", and dstack takes settings only from your own folders and root's" or nil
  if why and not warned[path] then
    warned[path] = true
    dstack.log.warn("ignoring " .. path .. ": " .. why)
  end
  return why == nil
end

return M
