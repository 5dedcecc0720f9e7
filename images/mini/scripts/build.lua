-- build: builds the project's image with a sortable datetime tag.
--
-- Run it in a project that has docker/Dockerfile (in that folder or any folder below it):
--   dstack run-script build [options] [docker build options]
-- See `dstack run-script build --help` and docs/build.md.
dstack.require_api(4) -- lib/packages.lua: dstack.script_file; lib/trust.lua: dstack.fs.counts

local entry = require("entry")
local allowances = require("allowances")
local args = require("args")
local certificates = require("certificates")
local containers = require("containers")
local docker = require("docker")
local images = require("images")
local packages = require("packages")
local project = require("project")
local compose = require("compose")
local locks = require("locks")
local tags = require("tags")

local parser = args.parser{
  usage = "dstack run-script build [options] [docker build options]",
  summary = "Builds the project's docker/Dockerfile into NAME:YYYYMMDD-HHMMSS (or NAME:YY.MM.DD) and runs the project's tests in it.",
  options = {
    {"--name", value = "NAME", help = "image name (default: the project folder's name, made a valid reference)"},
    {"--namespace", value = "PREFIX", help = "registry and namespace before the name, such as registry.example.com/team ($DSTACK_NAMESPACE)"},
    {"--version", value = "date|datetime", help = "the tag's version scheme: YYYYMMDD-HHMMSS for products (default) or YY.MM.DD for base and library images"},
    {"--parent", value = "REF", help = "the image for ARG PARENT (default: the newest version of the Dockerfile's ARG PARENT default)"},
    {"--context", value = "docker|root", help = "build context: the docker/ folder (default) or the project root (to COPY sources)"},
    {"--test-command", value = "COMMAND", help = "the test command, split on spaces, run in the new image at /dstack/project (default: pytest for Python projects with tests/)"},
    {"--test-option", value = "OPTION", repeated = true, help = "a docker run option for the test container, such as --env=KEY=VALUE (repeatable)"},
    {"--no-test", help = "do not run the tests"},
    {"--no-lock", help = "install the newest dependencies pyproject.toml allows, not what its lock (uv.lock, pylock.toml) pins"},
    {"--test-timeout", value = "SECONDS", help = "stop the tests after this long (default: `# dstack: test-timeout=` or test-timeout in [tool.dstack], else 3600)"},
    {"--push", help = "push the new tag and report its digest"},
    {"--keep", value = "N", integer = true, help = "remove older local versions of this image beyond the newest N"},
    {"--dry-run", help = "print the docker commands that change something instead of running them"},
  },
  pass_through = true,
  pass_through_values = {
    ["--build-arg"] = true, ["--target"] = true, ["--platform"] = true, ["--label"] = true,
    ["--network"] = true, ["--secret"] = true, ["--ssh"] = true, ["--progress"] = true,
    ["--cache-from"] = true, ["--add-host"] = true, ["--shm-size"] = true, ["--ulimit"] = true,
    ["--memory"] = true, ["-m"] = true, ["--iidfile"] = true,
  },
  epilog = [[Other options (--build-arg, --no-cache, --platform, --target, ...) go to docker build unchanged
(write rarer ones that take a value as --option=value).
Progress goes to standard error; the new image reference is the last line of standard output.
The tests run in the new image with the project read-only at /dstack/project, without its
Python sources (src/, top-level packages other than tests/, modules other than conftest.py,
build/, dist/, *.egg-info), so they test the installed package.
--network and --add-host apply to the test container too.
Project settings are comments in docker/Dockerfile:
  # dstack: context=root                  build from the project root instead of docker/
  # dstack: name=NAME                     the image name (default: the folder's name)
  # dstack: namespace=REGISTRY/TEAM       the namespace (after --namespace and $DSTACK_NAMESPACE)
  # dstack: test=python3 -m pytest tests  the test command (split on spaces, no shell)
  # dstack: test-options=--shm-size=1g    docker run options for the test container
  # dstack: run-options=-p 8000:8000      docker run options for `run` of this project's images
  # dstack: version=date                  tag YY.MM.DD (a second build that day gets a datetime)
A package (pyproject.toml, no docker/Dockerfile) gets a development image NAME:YYYYMMDD-HHMMSS on
py3 with its dependencies and every extra, not itself; its tests run with the source mounted.
Its settings are strings in [tool.dstack] of pyproject.toml: name, namespace, parent, test,
test-options, version.
Extra CA certificates: DSTACK_CA_CERTIFICATES (a PEM file or a folder of .crt files) is passed
as --build-arg EXTRA_CA_CERTIFICATES=PEM to a Dockerfile that declares that ARG.]],
}

local options, _, docker_options = entry.start(parser, dstack.args)
if not options then return 0 end

-- The project: an application (docker/Dockerfile) or a package (pyproject.toml, setup.cfg or setup.py).
local root, kind = packages.find(dstack.fs.cwd())
if not root then error(kind, 0) end
local dockerfile, dockerfile_text, settings, package
if kind == "package" then
  -- Settings come from [tool.dstack] in pyproject.toml; the Dockerfile is generated.
  package = packages.read(root)
  settings = package.settings
  settings.parent = settings.parent or packages.default_parent()
  if options.context then error("--context: a package's build context is generated (pyproject.toml only)", 0) end
else
  dockerfile = dstack.fs.join(root, "docker", "Dockerfile")
  dockerfile_text = assert(dstack.fs.read(dockerfile))
  settings = project.read_dockerfile(dockerfile_text)
  -- pip reads an application's pyproject.toml inside the build, where a mistake in it
  -- shows as a traceback: said here instead, in one line with its line number.
  local pyproject = dstack.fs.join(root, "pyproject.toml")
  if dstack.fs.exists(pyproject) then packages.parse_pyproject(pyproject) end
end

-- The test container's options from the project's file, checked before anything is built.
local test_options = not options.no_test and settings["test-options"] and allowances.options(settings["test-options"],
  {file = package and package.path or dockerfile, setting = "test-options", root = root}) or {}
-- Tests that hang are stopped, after a generous but finite time.
local written_timeout = options.test_timeout or settings["test-timeout"] or 3600
local test_timeout = tonumber(written_timeout)
if not test_timeout or test_timeout <= 0 or test_timeout > 86400 then
  error("--test-timeout (or the test-timeout setting): expected seconds from 1 to 86400, got '"
    .. tostring(written_timeout) .. "'", 0)
end

-- The parent (lib/images.lua's build_parent: the written one, --parent, or a --build-arg PARENT).
local build_args = {}
local parent
parent, build_args.PARENT = images.build_parent(settings.parent, options.parent, docker_options,
  package and (package.path .. " ([tool.dstack] parent, default " .. packages.default_parent() .. ")") or dockerfile)

-- The lock the dependencies are installed from (uv.lock, pylock.toml, the `lock` setting).
local lock, unlocked = locks.find(root, settings, options.no_lock)

-- A package's name, version and dependencies: from pyproject.toml when it says them all,
-- else from its build backend, asked in the parent image; then its build context.
if package then
  packages.complete(package, root, parent)
  settings.name = settings.name or project.reference_name(package.name)
  if package.version_origin then
    dstack.log.info(package.name .. " " .. package.git_version .. " (" .. package.version_origin .. ")")
  end
  if not dstack.is_dry_run() then packages.write_version_file(root, package) end
  local folder
  folder, dockerfile, dockerfile_text = packages.write_context(root, package, lock)
  package.context = folder
end

-- Name and tag.
local repository, unnamed = project.repository(root, settings, options.name, options.namespace)
if not repository then error(unnamed, 0) end
local tag = tags.new(repository, options.version or settings.version,
  options.version and "--version" or (package and "[tool.dstack] version in " .. package.path)
    or ("# dstack: version= in " .. dockerfile))
local image = repository .. ":" .. tag

-- Context.
local context_setting = options.context or settings.context or "docker"
if context_setting ~= "docker" and context_setting ~= "root" then
  error("--context: expected docker or root, got '" .. context_setting .. "'", 0)
end
local context = package and package.context or context_setting == "root" and root or dstack.fs.join(root, "docker")

-- A project may take a stack image's name or its parent's only when the user says so.
local image_name = repository:match("([^/]+)$")
local parent_name = parent and (dstack.docker.parse_reference(parent) or {repository = ""}).repository:match("([^/]+)$")
if not options.name and (images.stack_names[image_name] or image_name == parent_name) then
  error("this project's image would be " .. repository .. ", the name of " .. (images.stack_names[image_name]
    and "one of the stack's base images" or "its own parent") .. ", and would replace it on this machine; "
    .. "if that is what you want, build with --name " .. image_name .. ", else set another name (`# dstack: name=`)", 0)
end
-- A parent from this machine only (its repository never pushed or pulled it) is one
-- teammates do not have.
local function from_a_registry(reference)
  local pulled_from = assert(dstack.docker.parse_reference(reference)).repository
  for _, digest in ipairs((dstack.docker.inspect_image(reference) or {}).RepoDigests or {}) do
    if digest:sub(1, #pulled_from + 1) == pulled_from .. "@" then return true end
  end
  return false
end
if parent and parent:find("/", 1, true) and dstack.docker.inspect_image(parent) and not from_a_registry(parent) then
  dstack.log.warn("the parent " .. parent .. " was built on this machine and never pushed: teammates building "
    .. "this project get another one (push it, or name the parent's version in ARG PARENT)")
end

-- Extra CA certificates (DSTACK_CA_CERTIFICATES), for a Dockerfile that takes them.
for key, value in pairs(certificates.build_args(dockerfile_text)) do build_args[key] = value end

for key, value in pairs(locks.build_args(lock, dockerfile_text, dockerfile)) do build_args[key] = value end
if unlocked ~= "no pyproject.toml" then dstack.log.info(locks.describe(lock, unlocked)) end

-- Labels.
local function git(...) return (project.git(root, ...)) end
local revision = project.revision(root)
local labels = {
  ["org.opencontainers.image.created"] = os.date("!%Y-%m-%dT%H:%M:%SZ"),
  ["org.opencontainers.image.version"] = tag,
  ["org.opencontainers.image.source"] = git("config", "--get", "remote.origin.url") or root,
  ["org.opencontainers.image.revision"] = revision,
  ["io.dstack.parent"] = parent,
  ["io.dstack.mini"] = dstack.script.origin,
  ["io.dstack.package"] = package and package.name or nil,
  [locks.label] = lock and (lock.name .. " " .. lock.digest) or nil,
  -- Whose build it is, on an engine teammates share: --keep removes only one's own.
  [project.builder_label] = tostring(dstack.env.user().uid),
}

-- What the tests run: decided before the build, so their services start while it runs.
local test_command = options.test_command or settings.test
local command = test_command and project.split_words(test_command) or project.default_tests(root)
-- The services of the project's Compose file, fresh for these tests, on a network of their
-- own where each answers to its service name; started before the image builds, so their
-- start and health wait overlap the build, and ready before the tests run.
local group = not options.no_test and command and compose.start(root, {repository = repository, ready_later = true})
  or nil

local building, failure = pcall(function()
  dstack.log.info("building " .. image .. (parent and (" on " .. parent) or ""))
  local id_file = dstack.fs.join(dstack.fs.tmpdir(), "image-id")
  local built, problem = docker.build{
    context = context, file = dockerfile, tags = {image}, build_args = build_args, labels = labels,
    args = docker_options, id_file = id_file,
  }
  if not built then
    project.record_build(repository, revision, tag)
    error("the build of " .. image .. " failed: " .. problem .. certificates.hint(build_args, dockerfile_text), 0)
  end
  -- Another build of this repository that started in the same second (before either had
  -- its tag) took the tag last: said, instead of testing that build's image as this one.
  local built_id = dstack.fs.read(id_file)
  local holder = built_id and dstack.docker.inspect_image(image)
  if holder and holder.Id ~= built_id:gsub("%s+$", "") then
    error("another build of " .. repository .. " started in the same second and took the tag " .. image
      .. " (the image of this build is " .. built_id:gsub("%s+$", ""):sub(1, 19) .. ", untagged); build again", 0)
  end
end)
if not building then
  compose.stop(group)
  error(failure, 0)
end

-- Whether `program` can be started in `image` (asked only after docker answered 126 or
-- 127, which also means "a command the tests ran was not found").
local function program_in(program)
  local probe = dstack.docker.change({"run", "--rm", "--entrypoint", "sh", image, "-c", 'command -v "$1"', "sh", program})
  return probe.code == 0
end

-- Tests, in the new image, against what it holds: the project is shown read-only at
-- /dstack/project without its Python sources, so the tests import the installed package.
-- Options that matter to a container (--network, --add-host) reach the test run too.
if options.no_test then
  dstack.log.info("not testing " .. image .. " (--no-test)")
elseif not command then
  dstack.log.info("no tests run: no test command, and no tests/ folder of a Python project for the default "
    .. "(python3 -m pytest tests); set one with --test-command or `# dstack: test=` in docker/Dockerfile "
    .. "(a package: test = \"...\" in [tool.dstack] of pyproject.toml)")
else
  local run_options = {"--rm", "--workdir=/dstack/project", "--env=PYTHONDONTWRITEBYTECODE=1"}
  -- Named and labelled as `run`'s containers are, so `ps`, `logs` and `stop` show it; --init:
  -- the tests are not PID 1, so a stop signal that docker passes on ends them.
  local user = dstack.env.user().name
  local tester = containers.unique_name(user, repository .. "-test")
  table.move({"--init", "--name=" .. tester,
    "--label=" .. containers.labels.user .. "=" .. user, "--label=" .. containers.labels.image .. "=" .. repository,
    "--label=" .. containers.labels.version .. "=" .. tag}, 1, 5, #run_options + 1, run_options)
  local mounts = package and packages.test_options(root) or project.test_mounts(root)
  table.move(mounts, 1, #mounts, #run_options + 1, run_options)
  for index, word in ipairs(docker_options) do
    local name = word:match("^(%-%-[^=]+)")
    if name == "--network" or name == "--add-host" then
      run_options[#run_options + 1] = word:find("=", 1, true) and word or (word .. "=" .. docker_options[index + 1])
    end
  end
  local private = containers.private_environment(test_options)
  table.move(private, 1, #private, #run_options + 1, run_options)
  for _, word in ipairs(options.test_option or {}) do run_options[#run_options + 1] = word end
  local ran, status = pcall(function()
    compose.ready(group)
    if group then
      -- On their network, and one of them for the clean-up of a build that is killed.
      run_options[#run_options + 1] = "--network=" .. group.network
      run_options[#run_options + 1] = "--label=" .. compose.labels.group .. "=" .. group.name
    end
    dstack.log.info("testing " .. image .. ": " .. table.concat(command, " "))
    local status = docker.run{image = image, options = run_options, command = command, timeout = test_timeout}
    if status then return status end
    project.record_build(repository, revision, tag)
    error("the tests did not finish within " .. test_timeout .. " s, and were stopped (raise --test-timeout or the "
      .. "test-timeout setting, or find the test that hangs)", 0)
  end)
  compose.stop(group)
  if not ran then
    -- Interrupted (Ctrl-C, SIGTERM), or the services did not start: the container goes,
    -- and so does the untested tag.
    dstack.docker.change({"rm", "--force", tester})
    docker.rmi(image, {keep_parents = true})
    error(tostring(status) .. "; removed the untested tag " .. image, 0)
  end
  if status ~= 0 then
    local not_started = (status == 126 or status == 127) and not program_in(command[1])
    -- The layers stay: the build after the fix starts from them, and a build of another
    -- project that shares them may be using them now.
    docker.rmi(image, {keep_parents = true})
    project.record_build(repository, revision, tag)
    if status == 125 then
      dstack.log.error("docker could not start the test container of " .. image .. " (exit 125; its message is "
        .. "above); removed the tag. Fix the test options (--test-option, `# dstack: test-options=`)")
    elseif not_started then
      dstack.log.error("the test command could not start in " .. image .. " (" .. command[1] .. ": not found); "
        .. "removed the tag. Fix --test-command or `# dstack: test=`, or build with --no-test")
    elseif project.collected_no_tests(status, command) then
      dstack.log.error("pytest collected no tests in " .. image .. " (exit 5); removed the tag. Point its "
        .. "configuration (testpaths) or --test-command at the tests, or build with --no-test")
    else
      dstack.log.error("the tests failed in " .. image .. " (exit " .. status .. "); removed the tag. Fix them, or build with --no-test")
    end
    return status
  end
end

project.record_build(repository, revision, nil)

if options.push then
  local pushed, digest = docker.push(image)
  if not pushed then error("the push of " .. image .. " failed: " .. digest, 0) end
  if digest then dstack.log.info("pushed " .. repository .. "@" .. digest) end
end

if options.keep then
  project.remove_old_versions(repository, options.keep, tag)
end

print(image)
