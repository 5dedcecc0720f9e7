-- find-image: prints the newest version of an image as NAME:TAG.
-- Usage: dstack run-script find-image NAME   (also `dstack find-image NAME`)
dstack.require_api(1)

local images = require("images")

local name = dstack.args[1]
if name == "-h" or name == "--help" then
  print("usage: dstack find-image NAME\n\nPrints the newest version (YY.MM.DD or YYYYMMDD-HHMMSS tag) of NAME in the "
    .. "local engine and its registry.\nWith a tag or digest, prints NAME when the image exists.\nA short name is "
    .. "also looked for in $DSTACK_NAMESPACE and the project's `# dstack: namespace=` (README.md, \"Finding images\").")
  return 0
end
if not name or #dstack.args > 1 then error("usage: dstack find-image NAME (one image name)", 0) end

local found, problem = images.find(name)
if not found then error(problem .. "; " .. images.advice, 0) end
print(found)
