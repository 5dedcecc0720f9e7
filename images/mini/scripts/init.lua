-- init: creates a new Python project that builds on py3 and passes its tests at once.
--
--   dstack run-script init NAME [--parent REF] [--dir DIR]
-- See `dstack run-script init --help` and README.md ("First use").
dstack.require_api(4) -- lib/template.lua: dstack.script_file; lib/trust.lua: dstack.fs.counts

local entry = require("entry")
local args = require("args")
local images = require("images")
local locks = require("locks")
local packages = require("packages")
local project = require("project")
local template = require("template")

local parser = args.parser{
  usage = "dstack run-script init [options] NAME",
  summary = "Creates the Python project NAME in ./NAME: a package, a test, pyproject.toml, docker/Dockerfile "
    .. "on py3, README.md, .gitignore and .dockerignore (and a git repository when git is installed). "
    .. "With --package, a package project instead (its product is a wheel): no docker/Dockerfile, "
    .. "[tool.dstack] parent in pyproject.toml, and a first commit.",
  options = {
    {"--parent", value = "REF", help = "the parent image (default: $DSTACK_NAMESPACE/py3, its newest version at each build)"},
    {"--dir", value = "DIR", help = "the project folder (default: ./NAME); it must not exist or be empty"},
    {"--package", help = "a package (its product is a wheel: `build` and `release`), without docker/Dockerfile"},
    {"--dry-run", help = "print what would be created instead of creating it"},
  },
  epilog = "NAME: " .. template.rule .. ".\nThe import name is NAME with '-' and '.' made '_'. Then:\n"
    .. "  cd NAME && dstack run-script build && dstack run-script run NAME python -c 'import MODULE'\n"
    .. "  (a package: cd NAME && dstack run-script build && dstack run-script release)",
}

local options, rest = entry.start(parser, dstack.args, {min = 1, max = 1, what = "one NAME"})
if not options then return 0 end

-- Everything is checked before anything is written.
local name = rest[1]
local module, invalid = template.module_name(name)
if not module then error(invalid, 0) end

local folder = dstack.fs.abspath(options.dir or name)
local there = dstack.fs.stat(folder)
if there and there.type == "link" then
  error(folder .. " is a link to something that does not exist; remove it, or choose another folder with --dir DIR", 0)
end
if dstack.fs.exists(folder) then
  if not dstack.fs.is_dir(folder) then error(folder .. " exists and is not a folder; choose another with --dir DIR", 0) end
  if #assert(dstack.fs.list(folder)) > 0 then
    error(folder .. " is not empty; init writes only into a new or empty folder (choose another with --dir DIR)", 0)
  end
end
local image = project.reference_name(dstack.fs.basename(folder))
if image == "" then error("cannot make an image name from the folder '" .. dstack.fs.basename(folder) .. "'; choose another with --dir DIR", 0) end

-- The image as the build will name it (DSTACK_NAMESPACE/IMAGE), for the README and the hint.
local namespace = (dstack.env.get("DSTACK_NAMESPACE") or ""):gsub("/+$", "")
local reference = namespace ~= "" and (namespace .. "/" .. image) or image
local parent = options.parent or packages.default_parent()
local found, problem = images.find(parent)
if not found then
  error("cannot use " .. parent .. " as the parent image: " .. problem .. "; build py3 with scripts/publish-images "
    .. "(in dstack's repository; set DSTACK_NAMESPACE to its NAMESPACE) or name an existing image with --parent REF", 0)
end

local files = template.files({name = name, module = module, image = image, reference = reference, parent = parent},
  options.package)
local git = dstack.proc.which("git")

if dstack.is_dry_run() then
  for _, file in ipairs(files) do print("would create " .. dstack.fs.join(folder, file.path)) end
  print("would lock its dependencies into " .. dstack.fs.join(folder, "uv.lock") .. " with uv lock")
  if git then print("would run git init " .. folder) end
  return 0
end

for _, file in ipairs(files) do
  local path = dstack.fs.join(folder, file.path)
  assert(dstack.fs.mkdir(dstack.fs.dirname(path)))
  assert(dstack.fs.write(path, file.text))
end
-- The project starts locked: `build` installs exactly what uv.lock pins.
local locked, not_locked = locks.lock_with_uv(folder, found, {"--quiet"})
if locked then
  dstack.log.info("locked its dependencies in uv.lock: after a change to them, `dstack run-script lock` (or "
    .. "`uv lock`), then commit uv.lock")
else
  dstack.log.warn("not locked (" .. not_locked .. "); lock it with `dstack run-script lock` when you can")
end
if git then
  local result, message = dstack.proc.run({"git", "init", "--quiet", folder})
  if not result or result.code ~= 0 then
    dstack.log.warn("git init " .. folder .. " failed: " .. (message or result.stderr:gsub("%s+$", "")))
  else
    -- A first commit, so the first build's revision label is a commit (not `-dirty`) and
    -- `release` finds a clean work tree.
    local kind = options.package and "package" or "project"
    local added = dstack.proc.run({"git", "-C", folder, "add", "--all"})
    local committed = added and added.code == 0
      and dstack.proc.run({"git", "-C", folder, "commit", "--quiet", "-m", "New " .. kind .. " " .. name .. " (dstack run-script init)"})
    if not committed or committed.code ~= 0 then
      dstack.log.warn("git commit in " .. folder .. " failed (" .. (committed and committed.stderr:gsub("%s+$", ""):match("[^\n]*$")
        or "git add failed") .. "); commit the files yourself")
    end
  end
end

dstack.log.info("created the project " .. name .. " (import " .. module .. ") on " .. parent .. " (now " .. found .. ")")
if options.package then
  dstack.log.info("next: cd " .. folder .. " && dstack run-script build && dstack run-script release")
else
  dstack.log.info("next: cd " .. folder .. " && dstack run-script build && dstack run-script run " .. reference
    .. " python -c 'import " .. module .. "'")
end
print(folder)
