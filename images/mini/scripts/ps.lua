-- ps: the containers that dstack's run script started for you.
-- Usage: dstack run-script ps [--all]
dstack.require_api(2) -- lib/trust.lua reads owners (dstack.fs.stat uid, gid)

local args = require("args")
local containers = require("containers")

local parser = args.parser{
  usage = "dstack run-script ps [--all]",
  summary = "Lists the containers that `dstack run-script run` started for you: name, image, version, status, ports.",
  options = {{"--all", short = "-a", help = "also stopped containers (those started without --rm)"}},
}
local options, rest, wants_help = parser:parse(dstack.args)
if wants_help then
  print(parser:help())
  return 0
end
if #rest > 0 then error("unexpected argument '" .. rest[1] .. "'; see --help", 0) end

local rows = {{"NAME", "IMAGE", "VERSION", "STATUS", "PORTS"}}
for _, container in ipairs(containers.started_by_dstack{all = options.all}) do
  rows[#rows + 1] = {container.name, container.image, container.version, container.status, container.ports}
end
containers.print_table(rows)
