-- shell: a shell in your running container of an image, or in a new one.
-- Usage: dstack run-script shell [--root] [--new] [--dry-run] NAME|IMAGE
dstack.require_api(3) -- lib/trust.lua: dstack.fs.counts

local entry = require("entry")
local args = require("args")
local containers = require("containers")

local parser = args.parser{
  usage = "dstack run-script shell [options] [NAME|IMAGE]",
  summary = "Opens bash (or sh) in your running dstack container NAME or of IMAGE; when none runs, starts "
    .. "IMAGE as `dstack run-script run IMAGE bash` would. Without an argument, uses the only one running.",
  options = {
    {"--root", help = "as root (in a running container, or a new one)"},
    {"--new", help = "always start a new container"},
    {"--dry-run", help = "print the docker commands instead of running them"},
  },
}
local options, rest = entry.start(parser, dstack.args, {max = 1, what = "one NAME or IMAGE"})
if not options then return 0 end
local target = rest[1]

local running = {}
if not options.new then running = target and containers.matching(target) or containers.started_by_dstack() end
if #running == 0 then
  if not target then error("no container started by dstack is running; name an IMAGE to start one", 0) end
  local run_arguments = {target, "bash"}
  if options.root then table.insert(run_arguments, 1, "--root") end
  if dstack.is_dry_run() then table.insert(run_arguments, 1, "--dry-run") end
  return require("runner").main(run_arguments)
end
local container = #running == 1 and running[1] or containers.one(target, "open a shell in")

-- -it only when both ends are terminals, as the run script does.
local exec = {"exec"}
if dstack.env.is_tty(0) and dstack.env.is_tty(1) then
  exec[#exec + 1] = "--interactive"
  exec[#exec + 1] = "--tty"
else
  exec[#exec + 1] = "--interactive"
end
if options.root then
  exec[#exec + 1] = "--user"
  exec[#exec + 1] = "root"
end
exec[#exec + 1] = container.name
dstack.log.info("shell in " .. containers.describe(container))
-- bash when the container has it, else sh: asked of the container (an exit status of 127
-- is also what a shell session ends with after a command it did not find).
local probe = dstack.docker.query({"exec", container.name, "sh", "-c", "command -v bash || true"})
exec[#exec + 1] = (probe == nil or probe:find("bash", 1, true)) and "bash" or "sh"
return dstack.docker.change(exec, {terminal = true})
