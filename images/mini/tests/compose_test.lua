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

return t.run()
