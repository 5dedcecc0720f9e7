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

-- The current datetime, once no local image of `repository` has it as its tag: a build in
-- the same second as the one before it waits for the next second, so a tag never moves
-- from one build's image to another's.
function M.free_datetime(repository)
  local datetime = dstack.version.datetime()
  for _ = 1, 40 do
    if not dstack.docker.inspect_image(repository .. ":" .. datetime) then return datetime end
    dstack.proc.sleep(0.1)
    datetime = dstack.version.datetime()
  end
  error(repository .. ":" .. datetime .. " exists already and the clock does not move on; build again in a moment", 0)
end

return M
