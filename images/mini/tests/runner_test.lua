-- Tests of lib/runner.lua: the docker run command `run` makes, against a recorded engine.
local t = require("testing")
local runner = require("runner")

-- Runs `runner.main(argv)` as `user` (`{name, uid, gid, home}`) against an engine holding
-- team/app:24.01.01; returns the status and the docker commands it started (argument lists).
local function run(argv, user, also)
  local work = (also or {}).work or t.scratch{}
  t.environment{DSTACK_WORK = work}
  t.engine{images = {t.image_row("team/app", "24.01.01")}, registry = {}, containers = {}}
  t.stub(dstack.env, "user", function() return user end)
  t.stub(dstack.env, "timezone", function() return "Europe/Berlin" end)
  t.stub(dstack.env, "is_tty", function() return false end)
  local started = {}
  t.stub(dstack.docker, "change", function(args)
    started[#started + 1] = args
    return 0
  end)
  local holders = (also or {}).holders or ""
  t.stub(dstack.docker, "query", function(args)
    if args[1] == "ps" then return holders end
    error("no answer recorded for docker " .. table.concat(args, " "))
  end)
  return runner.main(argv), started, work
end

local root = {name = "root", uid = 0, gid = 0, home = "/root"}

t.test("a run as root: --init, the work folders, who and what runs, stdin; the command line's options last", function()
  local status, started, work = run({"--memory=1g", "team/app:24.01.01", "python", "-c", "x"}, root)
  t.equal(status, 0)
  local argv = started[1]
  t.equal({argv[1], argv[2], argv[3]}, {"run", "--init", "--rm"})
  t.equal(argv[4]:match("^%-%-name=root%-app%-%d+%-%d+%-%x+$") ~= nil, true, argv[4])
  local rest = table.concat(argv, " ", 5)
  t.equal(rest, "--label=io.dstack.user=root --label=io.dstack.image=team/app --label=io.dstack.version=24.01.01 "
    .. "--volume=" .. work .. "/data:/root/data --env=DATADIR=/root/data --volume=" .. work .. "/log:/root/log "
    .. "--env=LOGDIR=/root/log --env=IMAGE_NAME=team/app --env=IMAGE_VERSION=24.01.01 --env=HOST_UID=0 "
    .. "--env=HOST_GID=0 --env=HOST_USER=root --env=TZ=Europe/Berlin --interactive --memory=1g team/app:24.01.01 "
    .. "python -c x")
  t.equal(dstack.fs.is_dir(work .. "/data"), true, "the work folders are made")
end)

t.test("detached with a restart policy keeps the container; the source folder means development mode", function()
  local _, started, work = run({"-d", "--restart=always", "--hostdatadir", "no", "--hostlogdir", "no",
    "team/app:24.01.01"}, root)
  local text = table.concat(started[1], " ")
  t.equal(text:find(" --rm ", 1, true), nil, "no --rm with -d --restart")
  t.equal(text:find(" --interactive", 1, true), nil, "a detached run gets no stdin")
  t.equal(text:find("--volume=", 1, true), nil, "no work folders")
  assert(dstack.fs.mkdir(work .. "/src/app/src"))
  _, started = run({"team/app:24.01.01"}, root, {work = work})
  text = table.concat(started[1], " ")
  t.equal(text:find(" --volume=" .. work .. "/src/app:/root/src --workdir=/root/src --env=PYTHONPATH=/root/src/src ",
    1, true) ~= nil, true, text)
end)

t.test("notebook: Jupyter on the port, published on loopback, with its own token; a taken port is named", function()
  local _, started = run({"team/app:24.01.01", "notebook"}, root)
  local text = table.concat(started[1], " ")
  t.equal(text:find("--publish=127.0.0.1:8888:8888", 1, true) ~= nil, true, text)
  t.equal(text:match("team/app:24.01.01 (.*)$"), "jupyter lab --no-browser --ip=0.0.0.0 --port=8888 --allow-root")
  t.raises(function() run({"team/app:24.01.01", "notebook"}, root, {holders = "ann-app-1\n"}) end,
    "port 8888 is taken by the container ann-app-1 (a notebook already running?); start this one with --nb-port PORT "
      .. "before the image, or stop that one (`dstack run-script stop ann-app-1`)")
end)

t.test("a host port another container holds is refused before anything starts, naming it", function()
  local started
  t.raises(function()
    local _
    _, started = run({"-p", "8000:80", "team/app:24.01.01"}, root, {holders = "bob-web-1\n"})
  end, "port 8000 (-p 8000:80) is taken by the container bob-web-1; stop it (`dstack run-script stop bob-web-1`), "
    .. "or publish another host port (-p PORT:80; `run --no-run-options` leaves the project's own options out)")
  t.equal(started, nil)
end)

t.test("on a rootless engine the image's user runs as the container's root, which is the user", function()
  local user = {name = "ann", uid = 1001, gid = 1001, home = "/home/ann"}
  local work = t.scratch{}
  t.environment{DSTACK_WORK = work}
  t.engine{images = {t.image_row("team/app", "24.01.01")}, registry = {}, containers = {},
    kind = {podman = false, rootless = true, name = "rootless Docker 28"}}
  t.stub(dstack.docker, "inspect_image", function()
    return {Id = "sha256:" .. string.rep("d", 64), Config = {User = "docker-user", Env = {"HOME=/home/docker-user"}}}
  end)
  t.stub(dstack.env, "user", function() return user end)
  t.stub(dstack.env, "timezone", function() return nil end)
  t.stub(dstack.env, "is_tty", function() return false end)
  t.stub(dstack.log, "debug", function() end)
  local started
  t.stub(dstack.docker, "change", function(args)
    started = table.concat(args, " ")
    return 0
  end)
  t.stub(dstack.docker, "query", function() return "" end)
  t.equal(runner.main({"team/app:24.01.01", "true"}), 0)
  t.equal(started:find("run --init --user=0:0 --env=HOME=/home/docker-user --rm ", 1, true) ~= nil, true, started)
  t.equal(started:find("--volume=" .. work .. "/data:/home/docker-user/data", 1, true) ~= nil, true, started)
end)

t.test("--gpu on an engine without GPU support stops before anything starts, naming the fix", function()
  t.environment{}
  t.engine{images = {t.image_row("team/app", "24.01.01")}, registry = {}}
  t.stub(dstack.docker, "query", function(args)
    if args[1] == "info" then return {{Runtimes = {runc = {}}}} end
    error("no answer recorded for docker " .. table.concat(args, " "))
  end)
  t.stub(dstack.proc, "which", function() return nil end)
  t.raises(function() runner.main({"--gpu", "team/app:24.01.01"}) end, "--gpu: this Docker engine has no GPU support "
    .. "(no nvidia runtime, CDI GPU device or NVIDIA container toolkit found); install nvidia-container-toolkit, run "
    .. "`sudo nvidia-ctk runtime configure --runtime=docker` and restart docker, or run without --gpu")
end)

return t.run()
