-- find-image: prints the newest version of an image as NAME:TAG.
-- Usage: dstack run-script find-image [--all] NAME   (also `dstack find-image [--all] NAME`)
dstack.require_api(3) -- lib/trust.lua: dstack.fs.counts

local images = require("images")

local usage = "usage: dstack find-image [--all] NAME"
local all, name = false, nil
for _, word in ipairs(dstack.args) do
  if word == "-h" or word == "--help" then
    print(usage .. "\n\nPrints the newest version (YY.MM.DD or YYYYMMDD-HHMMSS tag) of NAME in the local engine and "
      .. "its registry.\nWith a tag or digest, prints NAME when the image exists.\nA short name is also looked for in "
      .. "$DSTACK_NAMESPACE and the project's `# dstack: namespace=` (docs/images.md).\n\n"
      .. "  --all   every place a short name has versions, newest first: REFERENCE and where it is")
    return 0
  elseif word == "--all" then
    all = true
  elseif name or word:sub(1, 1) == "-" then
    error(usage .. " (one image name; unknown '" .. word .. "')", 0)
  else
    name = word
  end
end
if not name then error(usage .. " (one image name)", 0) end

if all then
  local reference = dstack.docker.parse_reference(name)
  if reference and not reference.tag and not reference.digest and not reference.repository:find("/", 1, true) then
    local candidates, searched = images.candidates(name)
    if #candidates == 0 then
      error("no version of " .. name .. " found in " .. table.concat(searched, ", ") .. "; " .. images.advice, 0)
    end
    for _, candidate in ipairs(candidates) do print(candidate.reference .. "\t" .. candidate.place) end
    return 0
  end
end
local found, problem = images.find(name)
if not found then error(problem .. "; " .. images.advice, 0) end
print(found)
