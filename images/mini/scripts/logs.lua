-- logs: the output of your dstack container, or of your Swarm job (see submit.lua).
-- Usage: dstack run-script logs [-f] [--tail N] [NAME|IMAGE|JOB]
dstack.require_api(3) -- lib/trust.lua: dstack.fs.counts

local entry = require("entry")
local args = require("args")
local containers = require("containers")
local swarm = require("swarm")

local parser = args.parser{
  usage = "dstack run-script logs [options] [NAME|IMAGE|JOB]",
  summary = "Shows the output of your running dstack container NAME or of IMAGE (the only one running when none is named), "
    .. "or of every task of your job JOB, each line after JOB.INDEX@NODE.",
  options = {
    {"--follow", short = "-f", help = "keep showing new output until Ctrl-C"},
    {"--tail", short = "-n", value = "N", integer = true, help = "only the last N lines"},
    {"--timestamps", short = "-t", help = "show when each line was written"},
    {"--context", value = "NAME", help = "for a job: the docker context of the cluster's manager (as for submit)"},
  },
}
local options, rest = entry.start(parser, dstack.args, {max = 1, what = "one NAME, IMAGE or JOB"})
if not options then return 0 end

-- A job of yours that `target` names when no container does and the engine is a manager.
local function job_named(target)
  if not target or #containers.matching(target) > 0 then return nil end
  swarm.use(swarm.choose_context(options.context))
  local state = swarm.state()
  if state.LocalNodeState ~= "active" or not state.ControlAvailable then return nil end
  local jobs = swarm.matching(target)
  if #jobs > 1 then
    local names = {}
    for _, job in ipairs(jobs) do names[#names + 1] = job.name end
    error(#jobs .. " jobs match; name the one to show the logs of: " .. table.concat(names, ", "), 0)
  end
  return jobs[1]
end

local job = job_named(rest[1])
local command = {"logs"}
if job then command = {"service", "logs", "--no-task-ids"} end
if options.follow then command[#command + 1] = "--follow" end
if options.timestamps then command[#command + 1] = "--timestamps" end
if options.tail then
  command[#command + 1] = "--tail"
  command[#command + 1] = tostring(options.tail)
end
if job then
  command[#command + 1] = job.name
  return swarm.query(command, {terminal = true})
end
command[#command + 1] = containers.one(rest[1], "show the logs of").name
return dstack.docker.query(command, {terminal = true})
