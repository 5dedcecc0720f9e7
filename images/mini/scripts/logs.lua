-- logs: the output of your dstack container.
-- Usage: dstack run-script logs [-f] [--tail N] [NAME|IMAGE]
dstack.require_api(1)

local args = require("args")
local containers = require("containers")

local parser = args.parser{
  usage = "dstack run-script logs [options] [NAME|IMAGE]",
  summary = "Shows the output of your running dstack container NAME or of IMAGE (the only one running when none is named).",
  options = {
    {"--follow", short = "-f", help = "keep showing new output until Ctrl-C"},
    {"--tail", short = "-n", value = "N", integer = true, help = "only the last N lines"},
    {"--timestamps", short = "-t", help = "show when each line was written"},
  },
}
local options, rest, wants_help = parser:parse(dstack.args)
if wants_help then
  print(parser:help())
  return 0
end
if #rest > 1 then error("logs takes one NAME or IMAGE; see --help", 0) end

local container = containers.one(rest[1], "show the logs of")
local command = {"logs"}
if options.follow then command[#command + 1] = "--follow" end
if options.timestamps then command[#command + 1] = "--timestamps" end
if options.tail then
  command[#command + 1] = "--tail"
  command[#command + 1] = tostring(options.tail)
end
command[#command + 1] = container.name
return dstack.docker.query(command, {terminal = true})
