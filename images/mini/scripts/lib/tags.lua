-- tags: the version tag of a new build.
--
--   local tags = require("tags")
--   local tag = tags.new(repository, "date")   -- "26.11.29", or a datetime if that exists
--
-- Product images get datetimes (YYYYMMDD-HHMMSS), so every build is a new version; base
-- and library images, built now and then, get dates (YY.MM.DD). A date build on a day
-- whose date tag exists already (in the local engine or the registry) is tagged with the
-- datetime instead, which sorts after the date, and says so: a tag is never replaced.
local docker = require("docker")

local M = {}

-- Where builds take turns choosing a datetime: the machine's /tmp (tests name another).
M.shared_folder = "/tmp"

-- The version schemes a build can use.
M.schemes = {date = true, datetime = true}

-- A new tag for `repository` in `scheme` ("date" or "datetime"; nil means datetime).
-- `source` names where the scheme came from, for the error about an unknown one.
function M.new(repository, scheme, source)
  scheme = scheme or "datetime"
  if not M.schemes[scheme] then
    error((source or "version") .. ": expected date or datetime, got '" .. scheme .. "'", 0)
  end
  if scheme == "datetime" then return M.free_datetime(repository) end
  local date = dstack.version.date()
  if docker.newest(repository .. ":" .. date) then
    local datetime = M.free_datetime(repository)
    dstack.log.warn(repository .. ":" .. date .. " exists already; tagging this build " .. datetime
      .. " instead, which sorts after it (remove today's tag first to reuse it)")
    return datetime
  end
  return date
end

-- The current datetime, once no local image of `repository` has it as its tag and no other
-- build has chosen it: a build in the same second as another, a teammate's too, waits for
-- the next second, so a tag never moves from one build's image to another's. Builds choose
-- in turn, under a lock of the machine's (/tmp/dstack-tag-REPOSITORY), and note their
-- choice for the next ones (/tmp/dstack-tag-REPOSITORY.UID, each user's last).
function M.free_datetime(repository)
  local stem = "dstack-tag-" .. repository:gsub("[^%w._-]", "_")
  local folder = M.shared_folder
  local lock = dstack.fs.join(folder, stem)
  local locked, problem = dstack.fs.lock(lock, {wait = 30})
  if not locked then
    dstack.log.warn("cannot take " .. lock .. " (" .. problem .. "); a build of " .. repository .. " that "
      .. "starts in the same second could get the same tag (remove that file if no build is running)")
  end
  local chosen = {}
  for _, name in ipairs(dstack.fs.list(folder) or {}) do
    if name:sub(1, #stem + 1) == stem .. "." then chosen[dstack.fs.read(dstack.fs.join(folder, name)) or ""] = true end
  end
  local datetime = dstack.version.datetime()
  for _ = 1, 40 do
    if not chosen[datetime] and not dstack.docker.inspect_image(repository .. ":" .. datetime) then
      -- A dry run builds nothing, so it takes no tag from the builds after it.
      if locked and not dstack.is_dry_run() then
        dstack.fs.write(dstack.fs.join(folder, stem .. "." .. dstack.env.user().uid), datetime, {mode = "644"})
      end
      if locked then dstack.fs.unlock(lock) end
      return datetime
    end
    dstack.proc.sleep(0.1)
    datetime = dstack.version.datetime()
  end
  error(repository .. ":" .. datetime .. " exists already and the clock does not move on; build again in a moment", 0)
end

return M
