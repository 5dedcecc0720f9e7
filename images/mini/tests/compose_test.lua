-- Tests of lib/compose.lua's reading of a Compose file: the subset, start order, the
-- docker run options each service becomes, and one-line errors for what it does not read.
local t = require("testing")
local compose = require("compose")

local function read(text, files)
  files = files or {}
  files["compose.yaml"] = text
  local root = t.scratch(files)
  return compose.read(root .. "/compose.yaml", root), root
end

t.test("services start after those they depend on; each becomes docker run options", function()
  local list = read([[
services:
  app:
    image: team/app:26.12.01
    depends_on: {db: {condition: service_healthy}, cache: {condition: service_started}}
    command: serve --port 80
  db:
    image: team/postgres:26.12.01
    environment: {POSTGRES_PASSWORD: "test secret", POSTGRES_DB: app}
    healthcheck: {test: ["CMD", "pg_isready", "-U", "it's me"], interval: 1s, timeout: 1s, retries: 30}
    tmpfs: /var/lib/postgresql/data
  cache:
    image: team/cache:26.12.01
    entrypoint: ["memcached", "-v"]
    ports: ["11211:11211"]
]])
  local names = {}
  for _, service in ipairs(list) do names[#names + 1] = service.name end
  t.equal(names, {"cache", "db", "app"})
  t.equal(list[3].command, {"serve", "--port", "80"})
  t.equal(list[1].entrypoint, {"memcached", "-v"})
  t.equal(list[2].words, {
    "--env=POSTGRES_DB=app", "--env=POSTGRES_PASSWORD=test secret", "--health-cmd=pg_isready -U 'it'\\''s me'",
    "--health-interval=1s", "--health-retries=30", "--health-timeout=1s", "--tmpfs=/var/lib/postgresql/data",
  })
  t.equal(list[2].deadline, 62)
end)

t.test("an env_file inside the project becomes its variables; one outside stays a file docker reads", function()
  local list = read("services:\n  db:\n    image: x\n    env_file: [db.env, /etc/environment]\n",
    {["db.env"] = "# the password\nPASSWORD=p\n\nUSER=u\n"})
  t.equal(list[1].words, {"--env-file=/etc/environment", "--env=PASSWORD=p", "--env=USER=u"})
end)

t.test("what dstack does not read is one line naming the file, the service and the key", function()
  t.raises(function() read("services:\n  web:\n    image: x\n    restart: always\n") end,
    "compose.yaml: services.web: 'restart' is not in the part of the Compose Specification dstack reads")
  t.raises(function() read("services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n") end,
    "depends_on makes a cycle through")
  t.raises(function() read("services:\n  a:\n    image: x\n    depends_on: [nothing]\n") end,
    "depends_on names 'nothing', which is not a service")
  t.raises(function() read("services:\n  a:\n    build: ../outside\n") end,
    "services.a.build: the context must be a folder inside the project")
  t.raises(function() read("services:\n  a:\n    build: {context: ., dockerfile: /etc/passwd}\n") end,
    "services.a.build.dockerfile: the Dockerfile must be a file inside the project")
  t.raises(function() read("services: [a\n") end, "compose.yaml: not YAML")
  t.raises(function() read("version: '3'\n") end, "no services")
end)

t.test("the long syntax of ports and volumes becomes docker's; what dstack does not read is refused by name", function()
  t.equal(read("services:\n  web:\n    image: x\n    ports:\n      - {target: 80, host_ip: 127.0.0.1, published: \"8080\", "
    .. "protocol: tcp, name: web}\n      - {target: 53, published: 5353, protocol: udp}\n      - {target: 9, host_ip: \"::1\"}\n")[1].words,
    {"--publish=127.0.0.1:8080:80/tcp", "--publish=5353:53/udp", "--publish=[::1]::9"})
  t.equal(read("services:\n  web:\n    image: x\n    volumes:\n      - {type: volume, source: data, target: /d, "
    .. "volume: {nocopy: true}}\n")[1].words, {"--mount=type=volume,source=data,target=/d,volume-nocopy"})
  t.raises(function() read("services:\n  web:\n    image: x\n    volumes:\n      - {type: volume, source: d, target: /d, "
    .. "volume: {subpath: sub}}\n") end, "services.web.volumes.volume: subpath is not read by dstack")
  t.raises(function() read("services:\n  web:\n    image: x\n    env_file: [missing.env]\n") end,
    "services.web.env_file: missing.env does not exist (or say required: false)")
  t.equal(read("services:\n  web:\n    image: x\n    env_file: [{path: missing.env, required: false}]\n")[1].words, {})
end)

t.test("every example of the Compose Specification for the keys read is read, or refused in one line naming it", function()
  local run_options = require("run_options")
  local env_files = {[".env"] = "A=1\n", ["a.env"] = "B=2\n", ["b.env"] = "C=3\n", ["default.env"] = "D=4\n",
    ["override.env"] = "E=5\n"}
  local accepted, refused = 0, 0
  for index, case in ipairs(require("compose_spec_cases")) do
    local ok, services = pcall(read, case.yaml, env_files)
    local where = "example " .. index .. " (" .. case.key .. ")"
    if ok then
      accepted = accepted + 1
      for _, service in ipairs(services) do
        -- What it becomes is docker run options as docker reads them.
        local parsed, problem = pcall(run_options.parse, service.words, where)
        t.truthy(parsed, where .. ": " .. tostring(problem))
        for _, word in ipairs(service.words) do
          t.truthy(not word:find("table: ") and not word:find("=nil"), where .. " became '" .. word .. "'")
        end
      end
    else
      refused = refused + 1
      local message = tostring(services)
      t.truthy(not message:find("\n") and message:find("services%.") and not message:find("attempt to"),
        where .. " is refused with an error that is not one line naming the setting: " .. message)
    end
  end
  t.truthy(accepted >= 20, "most examples are read (" .. accepted .. " read, " .. refused .. " refused)")
end)

-- An engine whose services all become healthy: the docker commands a group's start and
-- stop run (argument lists joined), and the containers it lists.
local function healthy_engine(left_over)
  local commands = {}
  t.stub(dstack.env, "user", function() return {name = "ann", uid = 1000, gid = 1000, home = "/home/ann"} end)
  t.stub(dstack.docker, "query", function(args)
    commands[#commands + 1] = table.concat(args, " ")
    if args[1] == "network" and args[2] == "ls" and args[3] == "--filter" then return left_over or {} end
    return ""
  end)
  t.stub(dstack.docker, "change", function(args)
    commands[#commands + 1] = table.concat(args, " ")
    return {code = 0, stdout = args[1] == "run" and "c0ffee\n" or "", stderr = ""}
  end)
  t.stub(dstack.docker, "containers", function(filters)
    if filters.id then return {{id = filters.id, state = "running", labels = {}}} end
    return {{id = "c0ffee", state = "running", labels = {}}}
  end)
  return commands
end

t.test("a build's services: network, containers started before the build and waited for, then removed", function()
  local root = t.scratch{["compose.yaml"] = "services:\n  db:\n    image: postgres:16\n    healthcheck:\n"
    .. "      test: [\"CMD\", \"pg_isready\"]\n"}
  local commands = healthy_engine()
  local group = compose.start(root, {repository = "team/app", ready_later = true})
  t.equal(group.network, group.name)
  t.equal(group.name:match("^ann%-app%-svc%-%d+%-%d+%-%x+$") ~= nil, true, group.name)
  t.equal(#group.starting, 1, "not waited for yet")
  compose.ready(group)
  t.equal(#group.starting, 0)
  compose.stop(group)
  t.equal(commands[1], "network ls --filter label=io.dstack.services --filter label=io.dstack.user=ann --format {{json .}}")
  t.equal(commands[2]:match("^network create %-%-label=io%.dstack%.services%.owner=%d+:%d+ "
    .. "%-%-label=io%.dstack%.services=ann%-app%-svc%-[%w-]+ %-%-label=io%.dstack%.user=ann ann%-app%-svc%-[%w-]+$") ~= nil,
    true, commands[2])
  t.equal(commands[3]:match("^run %-%-detach %-%-name=" .. group.name:gsub("%-", "%%-") .. "%-db %-%-network="
    .. group.name:gsub("%-", "%%-") .. " %-%-network%-alias=db ") ~= nil, true, commands[3])
  t.equal(commands[3]:match(" postgres:16$") ~= nil, true, commands[3])
  t.equal(commands[#commands - 1], "rm --force --volumes c0ffee")
  t.equal(commands[#commands], "network rm " .. group.network)
end)

t.test("the next build removes the services of a build whose process is gone", function()
  local root = t.scratch{["compose.yaml"] = "services:\n  web:\n    image: busybox\n"}
  local commands = healthy_engine({{Labels = "io.dstack.services=ann-app-svc-old,io.dstack.services.owner=1:1,"
    .. "io.dstack.user=ann"}})
  t.stub(dstack.log, "info", function() end)
  local group = compose.start(root, {repository = "team/app"})
  t.equal(commands[2], "rm --force --volumes c0ffee", "the old group's containers")
  t.equal(commands[4], "network ls --quiet --filter label=io.dstack.services=ann-app-svc-old")
  compose.stop(group)
end)

return t.run()
