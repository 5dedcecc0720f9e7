-- lock: writes or updates the project's uv.lock, which `build` then installs exactly (see
-- lib/locks.lua), with uv: the host's, else py3's in a container, so no one needs uv
-- installed to keep a lock.
--
--   dstack run-script lock [--upgrade | --upgrade-package NAME] [--image REF]
-- See `dstack run-script lock --help` and docs/locks.md.
dstack.require_api(3) -- lib/trust.lua: dstack.fs.counts

local entry = require("entry")
local args = require("args")
local images = require("images")
local locks = require("locks")
local packages = require("packages")

local parser = args.parser{
  usage = "dstack run-script lock [options]",
  summary = "Writes the project's uv.lock with `uv lock` (the host's uv, else the one in py3, in a container "
    .. "that writes as you): what pyproject.toml asks for, each at one version, with hashes. Versions already "
    .. "locked stay unless --upgrade. Then commit uv.lock; `build` installs exactly what it pins.",
  options = {
    {"--upgrade", help = "take the newest version of every package that pyproject.toml allows"},
    {"--upgrade-package", value = "NAME", repeated = true, help = "take the newest version of NAME (repeatable)"},
    {"--image", value = "REF", help = "the image whose uv locks, when the host has none (default: the newest $DSTACK_NAMESPACE/py3)"},
    {"--dry-run", help = "print the command that would lock instead of running it"},
  },
}
local options = entry.start(parser, dstack.args)
if not options then return 0 end

local root, kind = packages.find(dstack.fs.cwd())
if not root then error(kind, 0) end
if not dstack.fs.exists(dstack.fs.join(root, "pyproject.toml")) then
  error(root .. " has no pyproject.toml: uv locks what its [project] dependencies ask for", 0)
end
local words = {}
if options.upgrade then words[#words + 1] = "--upgrade" end
for _, name in ipairs(options.upgrade_package or {}) do
  words[#words + 1] = "--upgrade-package"
  words[#words + 1] = name
end
local image = options.image or packages.default_parent()
local found = ""
if not dstack.proc.which("uv") then
  local problem
  found, problem = images.find(image)
  if not found then error("cannot lock without uv: the host has none, and " .. image .. ": " .. problem, 0) end
end
local locked, failure = locks.lock_with_uv(root, found, words)
if not locked then error("cannot lock " .. root .. ": " .. failure, 0) end
if not dstack.is_dry_run() then
  dstack.log.info("locked " .. root .. "/uv.lock (" .. assert(dstack.fs.digest(dstack.fs.join(root, "uv.lock"))):sub(1, 19)
    .. "): commit it; `build` installs exactly what it pins")
end
