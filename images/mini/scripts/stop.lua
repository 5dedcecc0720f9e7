-- stop: stops containers that dstack's run script started for you.
-- Usage: dstack run-script stop [--dry-run] [NAME|IMAGE]
dstack.require_api(3) -- lib/trust.lua: dstack.fs.counts

local entry = require("entry")
local args = require("args")
local containers = require("containers")

local parser = args.parser{
  usage = "dstack run-script stop [options] [NAME|IMAGE]",
  summary = "Stops your running dstack container NAME, or every one of IMAGE (team/app, team/app:TAG or app). "
    .. "Without an argument, stops the only one running.",
  options = {
    {"--time", short = "-t", value = "SECONDS", integer = true, help = "seconds to wait before killing (docker's default: 10)"},
    {"--dry-run", help = "print the docker command instead of running it"},
  },
}
local options, rest = entry.start(parser, dstack.args, {max = 1, what = "one NAME or IMAGE"})
if not options then return 0 end

local target = rest[1]
local chosen = target and containers.matching(target) or {containers.one(nil, "stop")}
if #chosen == 0 then containers.one(target, "stop") end

local command = {"stop"}
if options.time then
  command[#command + 1] = "--time"
  command[#command + 1] = tostring(options.time)
end
for _, container in ipairs(chosen) do command[#command + 1] = container.name end
local result = dstack.docker.change(command)
if result.code ~= 0 then
  error("docker stop failed (exit " .. result.code .. "): " .. (result.stderr:gsub("%s+$", "")), 0)
end
for _, container in ipairs(chosen) do print("stopped " .. containers.describe(container)) end
