-- trust: whose files count, by the host's one rule (`dstack.fs.counts`, which the host also
-- applies to .dstack-mini pin files): as git's safe.directory decides, a walk up for a
-- project stops at the first folder that belongs to neither the user nor root, and a
-- settings file (docker/Dockerfile, pyproject.toml) that another user owns (or whose link
-- another user owns), or that other users can write, is ignored with a one-line warning
-- naming it and the fix. Folders the user names in DSTACK_SAFE_DIRECTORIES count whatever
-- their owner.
--
--   local trust = require("trust")
--   trust.walk_up(start, function(folder) ... end)   -- first non-nil result, or nil, the folder it stopped at and why
--   if trust.counts(path) then ... end               -- the file exists and counts (warns once when it does not)
dstack.require_api(3) -- dstack.fs.counts

local M = {}

-- Calls `visit(folder)` for `start` and each folder above it, up to the first that does
-- not count; returns the first result that is not nil. Else nil, the folder the walk
-- stopped at and why (nil, nil when it reached /).
function M.walk_up(start, visit)
  local fs = dstack.fs
  local folder = fs.abspath(start)
  while true do
    local counts, why = fs.counts(folder)
    if not counts and why then return nil, folder, why end
    local found, more = visit(folder)
    if found ~= nil then return found, more end
    if folder == "/" then return nil end
    folder = fs.dirname(folder)
  end
end

local warned = {}

-- True when the file at `path` exists and counts (and so does its folder). One that does
-- not is named once per run.
function M.counts(path)
  local fs = dstack.fs
  if not fs.exists(path) or fs.is_dir(path) then return false end
  local counts, why = fs.counts(path)
  if counts then
    local folder_counts, folder_why = fs.counts(fs.dirname(path))
    if not folder_counts and folder_why then why = "its folder does not count: " .. folder_why end
  end
  if why and not warned[path] then
    warned[path] = true
    dstack.log.warn("ignoring " .. path .. ": " .. why)
  end
  return why == nil and counts
end

return M
