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

return t.run()
