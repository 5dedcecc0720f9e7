-- runner: runs a project container the team's way; the run script and the shell
-- script (for a new container) call `main`.
--
--   require("runner").main{"IMAGE", "bash"}   -- as `dstack run-script run IMAGE bash`
-- See `dstack run-script run --help` and docs/run.md.
local args = require("args")
local containers = require("containers")
local docker = require("docker")
local entry = require("entry")
local project = require("project")

local M = {}

local parser = args.parser{
  usage = "dstack run-script run [options] IMAGE[:TAG] [COMMAND [ARGS...]]",
  summary = "Runs IMAGE (its newest version when no tag is given) with the work folders mounted, as the image's user.",
  options = {
    {"--root", help = "run as root"},
    {"--gpu", help = "use all GPUs (checks GPU support first)"},
    {"--gpus", value = "SPEC", help = "use these GPUs, as docker run --gpus (such as 2 or '\"device=0,1\"')"},
    {"--hostdatadir", value = "DIR|no", help = "host folder mounted at ~/data (default: $DSTACK_WORK/data, ~/work/data)"},
    {"--hostlogdir", value = "DIR|no", help = "host folder mounted at ~/log (default: $DSTACK_WORK/log, ~/work/log)"},
    {"--hostsrcdir", value = "DIR|no", help = "source folder mounted at ~/src in development mode (default: ~/work/src/NAME when it exists)"},
    {"--nb-port", value = "PORT", integer = true, help = "the port of the `notebook` command (default 8888)"},
    {"--nb-address", value = "ADDRESS", help = "where the notebook port is published (default 127.0.0.1)"},
    {"--no-run-options", help = "leave out the project's `# dstack: run-options=` for this run"},
    {"--dry-run", help = "print the docker commands instead of running them"},
  },
  pass_through = true,
  pass_through_values = require("run_options").takes_value,
  stop_at_positional = true,
  epilog = [[docker run options (-v, -p, -e, --network, --memory, --shm-size, --name, -d, --restart,
--workdir, ...) go to docker unchanged.
COMMAND `notebook` starts Jupyter Lab, with a new token each run (its URL is in its output).
The container's exit status is dstack's.
IMAGE is found as docs/images.md says: a short name in the local engine, then in $DSTACK_NAMESPACE
(and the project's `# dstack: namespace=`), never as :latest.
In a project, `# dstack: run-options=...` in docker/Dockerfile adds options to every run of
its images (before the command line's, which win).
The container runs as the image's user with the host user's uid and gid (on a root host, as
root), so files in the work folders belong to the host user.]],
}

-- The root of the project in the current folder when `requested` is one of its images.
local function own_project(requested)
  local root = project.find_root(dstack.fs.cwd())
  local reference = dstack.docker.parse_reference(requested)
  if not root or not reference then return nil end
  local repository = project.repository(root, project.settings(root))
  if not repository then return nil end
  if reference.repository ~= repository and reference.repository ~= repository:match("([^/]+)$") then return nil end
  return root
end

-- The options of `# dstack: run-options=` when `requested` is an image of the project in
-- the current folder (`root`, when the caller found it already), else an empty list.
local function project_run_options(requested, root)
  root = root or own_project(requested)
  local words = root and project.settings(root)["run-options"]
  if not words then return {} end
  local file = dstack.fs.join(root, "docker", "Dockerfile")
  -- Required here: only a project with run options needs the allow list.
  return require("allowances").options(words, {file = file, setting = "run-options", root = root, refused = parser.by_name})
end
M.project_run_options = project_run_options

-- Raises one line naming the container that holds a host port that `words` (docker run
-- options, the project's and the command line's) publish, before anything starts.
local function check_published_ports(words)
  local parsed_ok, parsed = pcall(require("run_options").parse, words, "run")
  if not parsed_ok then return end
  for _, option in ipairs(parsed) do
    if option.name == "publish" then
      local parts = {}
      for part in (option.value .. ":"):gmatch("([^:]*):") do parts[#parts + 1] = part end
      local host_port = #parts >= 2 and parts[#parts - 1] or ""
      local holders = host_port:match("^%d+$")
        and dstack.docker.query({"ps", "--filter", "publish=" .. host_port, "--format", "{{.Names}}"})
      local holder = holders and holders:match("^([^\n]+)")
      if holder then
        error("port " .. host_port .. " (" .. option.text .. ") is taken by the container " .. holder .. "; stop it "
          .. "(`dstack run-script stop " .. holder .. "`), or publish another host port (-p PORT:" .. parts[#parts]
          .. "; `run --no-run-options` leaves the project's own options out)", 0)
      end
    end
  end
end

-- Runs a container for the run script's arguments `argv`; returns its exit status.
function M.main(argv)
  local options, rest, docker_options = entry.start(parser, argv, {min = 1, max = false, what = "IMAGE[:TAG] and a command"})
  if not options then return 0 end
  local requested = rest[1]
  -- The project whose image this is, found once: its run options and its services.
  local root = own_project(requested)
  local defaults = (options.no_run_options or not root) and {} or project_run_options(requested, root)
  if #defaults > 0 then
    local combined = table.move(argv, 1, #argv, #defaults + 1, table.move(defaults, 1, #defaults, 1, {}))
    options, rest, docker_options = entry.start(parser, combined, {min = 1, max = false})
  end
  local command = table.move(rest, 2, #rest, 1, {})

  -- GPUs are checked before anything starts.
  local gpus = options.gpus or (options.gpu and "all")
  if gpus then
    local missing = containers.missing_gpu_support(options.gpus and "--gpus" or "--gpu")
    if missing and not dstack.is_dry_run() then error(missing, 0) end
  end

  local image, inspected = containers.resolve_image(requested)
  local config = inspected and inspected.Config or {}
  local reference = assert(dstack.docker.parse_reference(image))
  local repository, version = reference.repository, reference.tag
  local passed = containers.option_set(docker_options)

  -- The user: the image's own (the stack's images declare USER docker-user), or root.
  local user = options.root and "root" or (config.User ~= "" and config.User) or nil
  local home = containers.home_of(user, config.Env)

  local host = dstack.env.user()
  local run = {"--init"}
  -- The image's user gets the host user's uid and gid, so it can write to the work
  -- folders and what it writes belongs to the host user: on a root host, and on a
  -- rootless engine (whose container root is the user on the host), the container runs as
  -- root with the user's home; otherwise from an image derived once per image and uid,
  -- whose user has the host's uid and gid.
  local as_root = options.root or containers.is_root_user(user)
  if options.root then
    run[#run + 1] = "--user=root"
  elseif not as_root and not (passed["--user"] or passed["-u"]) then
    if host.uid == 0 or docker.engine().rootless then
      if host.uid ~= 0 then
        local say = dstack.is_dry_run() and dstack.log.info or dstack.log.debug
        say("the engine is " .. docker.engine().name .. ": " .. user .. " runs as the container's root, which is "
          .. host.name .. " on the host")
      end
      run[#run + 1] = "--user=0:0"
      run[#run + 1] = "--env=HOME=" .. home
      as_root = true
    else
      local derived, problem = containers.with_host_user(image, inspected, user, host)
      if not derived then
        dstack.log.warn(problem .. "; running as uid " .. host.uid .. " without a user name")
        run[#run + 1] = "--user=" .. host.uid .. ":" .. host.gid
      elseif derived.root then
        as_root = true
      else
        image = derived.image
        home = derived.home or home
      end
    end
  end
  local detached = passed["-d"] or passed["--detach"]
  if not (detached and passed["--restart"]) then run[#run + 1] = "--rm" end
  local container_name = containers.unique_name(host.name, repository)
  if passed["--name"] then
    for index, word in ipairs(docker_options) do
      container_name = word:match("^%-%-name=(.*)$") or word == "--name" and docker_options[index + 1]
        or container_name
    end
  else
    run[#run + 1] = "--name=" .. container_name
  end
  run[#run + 1] = "--label=" .. containers.labels.user .. "=" .. host.name
  run[#run + 1] = "--label=" .. containers.labels.image .. "=" .. repository
  run[#run + 1] = "--label=" .. containers.labels.version .. "=" .. (version or "")

  -- Work folders.
  local work = dstack.env.get("DSTACK_WORK") or dstack.fs.join(host.home, "work")
  local function mount(host_folder, target, variable, create)
    if host_folder == "no" then return false end
    if not dstack.fs.is_dir(host_folder) then
      if not create then error("--hostsrcdir: " .. host_folder .. " is not a folder", 0) end
      if not dstack.is_dry_run() then assert(dstack.fs.mkdir(host_folder)) end
    end
    run[#run + 1] = "--volume=" .. dstack.fs.abspath(host_folder) .. ":" .. target
    if variable then run[#run + 1] = "--env=" .. variable .. "=" .. target end
    return true
  end
  mount(options.hostdatadir or dstack.fs.join(work, "data"), home .. "/data", "DATADIR", true)
  mount(options.hostlogdir or dstack.fs.join(work, "log"), home .. "/log", "LOGDIR", true)
  local name = repository:match("([^/]+)$")
  local source = options.hostsrcdir
  if not source and dstack.fs.is_dir(dstack.fs.join(work, "src", name)) then source = dstack.fs.join(work, "src", name) end
  if source and mount(source, home .. "/src", nil, false) then
    if not passed["--workdir"] and not passed["-w"] then run[#run + 1] = "--workdir=" .. home .. "/src" end
    local python_path = dstack.fs.is_dir(dstack.fs.join(source, "src")) and (home .. "/src/src") or (home .. "/src")
    run[#run + 1] = "--env=PYTHONPATH=" .. python_path
  end

  -- Environment.
  run[#run + 1] = "--env=IMAGE_NAME=" .. repository
  run[#run + 1] = "--env=IMAGE_VERSION=" .. (version or "")
  run[#run + 1] = "--env=HOST_UID=" .. host.uid
  run[#run + 1] = "--env=HOST_GID=" .. host.gid
  run[#run + 1] = "--env=HOST_USER=" .. host.name
  local zone = dstack.env.timezone()
  if zone then run[#run + 1] = "--env=TZ=" .. zone end

  if gpus then
    run[#run + 1] = "--gpus"
    run[#run + 1] = gpus
  end

  -- The project's long-lived services (its Compose file), started when they are not up;
  -- the container joins their network, where each answers to its service name.
  local services = root and require("compose").start(root, {repository = repository, long_lived = true})
  if services and not passed["--network"] then run[#run + 1] = "--network=" .. services.network end

  -- The notebook.
  if command[1] == "notebook" then
    local port = options.nb_port or 8888
    local address = options.nb_address or "127.0.0.1"
    local holders = dstack.docker.query({"ps", "--filter", "publish=" .. port, "--format", "{{.Names}}"})
    local holder = holders and holders:match("^([^\n]+)")
    if holder then
      error("port " .. port .. " is taken by the container " .. holder .. " (a notebook already running?); "
        .. "start this one with --nb-port PORT before the image, or stop that one (`dstack run-script stop "
        .. holder .. "`)", 0)
    end
    run[#run + 1] = "--publish=" .. address .. ":" .. port .. ":" .. port
    -- Jupyter's own token, new every run, wherever the port is published: on a shared
    -- machine, 127.0.0.1 is every local user's too. Jupyter prints the URL with it.
    command = {"jupyter", "lab", "--no-browser", "--ip=0.0.0.0", "--port=" .. port}
    if detached then
      dstack.log.info("the notebook's URL, with its token, is in its log: dstack run-script logs " .. requested)
    end
    if as_root then command[#command + 1] = "--allow-root" end
  end

  -- The terminal: a detached run gets none; otherwise stdin always reaches the
  -- container (input(), breakpoint(), pudb), and a terminal when both ends are terminals.
  if not detached then
    run[#run + 1] = "--interactive"
    if dstack.env.is_tty(0) and dstack.env.is_tty(1) then run[#run + 1] = "--tty" end
  end

  check_published_ports(docker_options)
  table.move(docker_options, 1, #docker_options, #run + 1, run)
  local ran, status = pcall(docker.run, {image = image, options = run, command = command})
  if ran then
    -- A rootless engine that cannot start a container: what this machine lacks for it.
    if (status == 125 or status == 127) and docker.engine().rootless then
      for _, gap in ipairs(docker.rootless_gaps(docker.engine())) do dstack.log.error(gap) end
    end
    return status
  end
  -- Interrupted: a container that outlived the signal (one that ignores it) goes too.
  if not detached then dstack.docker.change({"rm", "--force", container_name}) end
  error(status, 0)
end

return M
