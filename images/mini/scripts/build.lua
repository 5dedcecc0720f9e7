-- build: builds the project's image with a sortable datetime tag.
--
-- Run it in a project that has docker/Dockerfile (in that folder or any folder below it):
--   dstack run-script build [options] [docker build options]
-- See `dstack run-script build --help` and README.md ("The build script").
dstack.require_api(1)

local args = require("args")
local certificates = require("certificates")
local docker = require("docker")
local project = require("project")
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
    {"--no-test", help = "do not run the tests"},
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
Project settings are comments in docker/Dockerfile:
  # dstack: context=root                  build from the project root instead of docker/
  # dstack: test=python -m pytest tests   the test command (split on spaces, no shell)
  # dstack: version=date                  tag YY.MM.DD (a second build that day gets a datetime)
Extra CA certificates: DSTACK_CA_CERTIFICATES (a PEM file or a folder of .crt files) is passed
as --build-arg EXTRA_CA_CERTIFICATES=PEM to a Dockerfile that declares that ARG.]],
}

local options, positional, wants_help, docker_options = parser:parse(dstack.args)
if wants_help then
  print(parser:help())
  return 0
end
if options.dry_run then dstack.enable_dry_run() end
if #positional > 0 then
  error("unexpected argument '" .. positional[1] .. "': the build takes options only; see --help", 0)
end

local root = project.find_root(dstack.fs.cwd())
if not root then
  error("no docker/Dockerfile in " .. dstack.fs.cwd() .. " or any folder above it; "
    .. "run the build in a project that has one", 0)
end
local dockerfile = dstack.fs.join(root, "docker", "Dockerfile")
local dockerfile_text = assert(dstack.fs.read(dockerfile))
local settings = project.read_dockerfile(dockerfile_text)

-- Name and tag.
local name = options.name or project.reference_name(dstack.fs.basename(root))
if not name or name == "" then
  error("cannot make an image name from the folder '" .. dstack.fs.basename(root) .. "'; pass --name NAME", 0)
end
local namespace = options.namespace or dstack.env.get("DSTACK_NAMESPACE")
local repository = namespace and namespace ~= "" and (namespace:gsub("/+$", "") .. "/" .. name) or name
local tag = tags.new(repository, options.version or settings.version,
  options.version and "--version" or "# dstack: version= in " .. dockerfile)
local image = repository .. ":" .. tag

-- Context.
local context_setting = options.context or settings.context or "docker"
if context_setting ~= "docker" and context_setting ~= "root" then
  error("--context: expected docker or root, got '" .. context_setting .. "'", 0)
end
local context = context_setting == "root" and root or dstack.fs.join(root, "docker")

-- Parent: the newest version of the Dockerfile's ARG PARENT default, unless given
-- (--parent, or --build-arg PARENT=… passed through to docker build).
local build_args = {}
local parent = options.parent
for index, word in ipairs(docker_options) do
  local given = (word == "--build-arg" and (docker_options[index + 1] or ""):match("^PARENT=(.+)$"))
    or word:match("^%-%-build%-arg=PARENT=(.+)$")
  if given then parent = given end
end
if not parent and settings.parent then
  local wanted, invalid = dstack.docker.parse_reference(settings.parent)
  if not wanted then error("ARG PARENT in " .. dockerfile .. ": " .. invalid, 0) end
  if wanted.digest then
    parent = settings.parent
  else
    local found, problem = docker.newest(wanted.repository)
    if not found then
      error("cannot resolve the parent image for ARG PARENT: " .. problem .. "; build or pull a version of it "
        .. "(the stack's images, such as py3: scripts/publish-images in dstack's repository), or pass --parent REF", 0)
    end
    parent = found
  end
  build_args.PARENT = parent
elseif options.parent then
  build_args.PARENT = parent
end

-- Extra CA certificates (DSTACK_CA_CERTIFICATES), for a Dockerfile that takes them.
for key, value in pairs(certificates.build_args(dockerfile_text)) do build_args[key] = value end

-- Labels.
local function git(...)
  local result = dstack.proc.run({"git", "-C", root, ...})
  if result and result.code == 0 then return (result.stdout:gsub("%s+$", "")) end
end
local revision = git("rev-parse", "HEAD")
if revision and git("status", "--porcelain") ~= "" then revision = revision .. "-dirty" end
local labels = {
  ["org.opencontainers.image.created"] = os.date("!%Y-%m-%dT%H:%M:%SZ"),
  ["org.opencontainers.image.version"] = tag,
  ["org.opencontainers.image.source"] = git("remote", "get-url", "origin") or root,
  ["org.opencontainers.image.revision"] = revision,
  ["io.dstack.parent"] = parent,
  ["io.dstack.mini"] = dstack.script.origin,
}

dstack.log.info("building " .. image .. (parent and (" on " .. parent) or ""))
local built, problem = docker.build{
  context = context, file = dockerfile, tags = {image}, build_args = build_args, labels = labels,
  args = docker_options,
}
if not built then error("the build of " .. image .. " failed: " .. problem, 0) end

-- Tests, in the new image, with the project mounted read-only at /dstack/project.
local test_command = options.test_command or settings.test
local command = test_command and project.split_words(test_command) or project.default_tests(root)
if command and not options.no_test then
  dstack.log.info("testing " .. image .. ": " .. table.concat(command, " "))
  local status = docker.run{
    image = image,
    options = {"--rm", "--volume", root .. ":/dstack/project:ro", "--workdir", "/dstack/project",
      "--env", "PYTHONDONTWRITEBYTECODE=1"},
    command = command,
  }
  if status ~= 0 then
    docker.rmi(image)
    dstack.log.error("the tests failed in " .. image .. " (exit " .. status .. "); removed the tag. Fix them, or build with --no-test")
    return status
  end
end

if options.push then
  local pushed, digest = docker.push(image)
  if not pushed then error("the push of " .. image .. " failed: " .. digest, 0) end
  if digest then dstack.log.info("pushed " .. repository .. "@" .. digest) end
end

if options.keep then
  project.remove_old_versions(repository, options.keep, tag)
end

print(image)
