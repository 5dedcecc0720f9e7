-- ps: the containers that dstack's run script started for you.
-- Usage: dstack run-script ps [--all]
dstack.require_api(3) -- lib/trust.lua: dstack.fs.counts

local entry = require("entry")
local args = require("args")
local containers = require("containers")

local parser = args.parser{
  usage = "dstack run-script ps [--all]",
  summary = "Lists the containers that `dstack run-script run` started for you: name, image, version, status, ports.",
  options = {{"--all", short = "-a", help = "also stopped containers (those started without --rm)"}},
}
local options = entry.start(parser, dstack.args)
if not options then return 0 end

local rows = {{"NAME", "IMAGE", "VERSION", "STATUS", "PORTS"}}
for _, container in ipairs(containers.started_by_dstack{all = options.all}) do
  rows[#rows + 1] = {container.name, container.image, container.version, container.status, container.ports}
end
containers.print_table(rows)
