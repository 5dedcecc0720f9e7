-- Tests of lib/containers.lua and lib/docker.lua: what reaches docker's command line, and what a
-- rootless engine lacks.
local t = require("testing")
local containers = require("containers")

t.test("environment values leave the command line for an env file only the user can read", function()
  local words = containers.private_environment({
    "--env=PASSWORD=s3cret word", "--workdir=/app", "--env=HOME", "--env-file=/etc/environment",
    "--env=MULTI=a\nb", "--env= SPACED=1",
  })
  t.equal(#words, 5)
  t.equal({words[1], words[2], words[3], words[4]}, {"--workdir=/app", "--env-file=/etc/environment",
    "--env=MULTI=a\nb", "--env= SPACED=1"})
  local path = words[5]:match("^%-%-env%-file=(.*)$")
  t.equal(dstack.fs.read(path), "PASSWORD=s3cret word\nHOME\n")
  t.equal(string.format("%o", dstack.fs.stat(path).mode), "600")
  t.equal(string.format("%o", dstack.fs.stat(dstack.fs.dirname(path)).mode), "700")
end)

t.test("options without environment are handed back as they are", function()
  local words = {"--workdir=/app"}
  t.equal(containers.private_environment(words), words)
end)

t.test("a rootless engine's missing subordinate ids are named with the command that adds them", function()
  local docker = require("docker")
  local user = dstack.env.user()
  local root = t.scratch({subuid = "someone:100000:65536\n", subgid = user.name .. ":100000:65536\n"})
  local gaps = docker.rootless_gaps({podman = false}, {subuid = root .. "/subuid", subgid = root .. "/subgid"})
  local named = {}
  for _, gap in ipairs(gaps) do
    if gap:find(root, 1, true) then named[#named + 1] = gap end
  end
  t.equal(named, {root .. "/subuid gives " .. user.name .. " no range of ids: as root, run usermod --add-subuids "
    .. "100000-165535 " .. user.name .. " (a range no other user has)"})
end)

-- The dstack containers of the user, as `docker ps` answers the script's format.
local function running(rows)
  t.stub(dstack.docker, "query", function(args)
    assert(args[1] == "ps", table.concat(args, " "))
    return rows
  end)
end

local web = {id = string.rep("a", 64), name = "ann-web-20261207-010203-0a1b", image = "team/web", version = "24.01.01",
  state = "running", status = "Up 2 minutes", ports = ""}
local job = {id = string.rep("b", 64), name = "ann-job-20261207-010203-0c1d", image = "team/job", version = "24.02.02",
  state = "running", status = "Up 1 second", ports = ""}

t.test("a container is named by its name, its ID (12 characters at least), its image, with or without tag, or its last part",
  function()
    running({web, job})
    for _, target in ipairs({web.name, string.rep("a", 12), "team/web", "team/web:24.01.01", "web"}) do
      t.equal(containers.one(target, "stop").name, web.name, target)
    end
    t.raises(function() containers.one("aaaa", "stop") end,
      "no running container of yours matches 'aaaa'; `dstack run-script ps` lists them")
    t.raises(function() containers.one(nil, "stop") end, "2 containers match; name the one to stop: "
      .. web.name .. " (team/web:24.01.01, Up 2 minutes); " .. job.name .. " (team/job:24.02.02, Up 1 second)")
    running({})
    t.raises(function() containers.one(nil, "stop") end,
      "no container started by dstack is running; `dstack run-script ps --all` lists stopped ones")
  end)

t.test("who is root as an image writes it, where its home is, loopback addresses", function()
  for _, user in ipairs({"", "root", "0", "0:0", "root:root"}) do t.equal(containers.is_root_user(user), true, user) end
  for _, user in ipairs({"docker-user", "1000", "postgres:postgres"}) do
    t.equal(containers.is_root_user(user), false, user)
  end
  t.equal(containers.home_of("docker-user", {"PATH=/bin", "HOME=/home/docker-user"}), "/home/docker-user")
  t.equal(containers.home_of("root", {"HOME=/home/docker-user"}), "/root")
  t.equal(containers.home_of("postgres:postgres", {}), "/home/postgres")
end)

t.test("tables print as aligned columns, without trailing spaces", function()
  local printed = {}
  t.stub(_G, "print", function(line) printed[#printed + 1] = line end)
  containers.print_table({{"NAME", "STATUS"}, {"ann-web", "Up"}, {"b", "Exited (0)"}})
  t.equal(printed, {"NAME      STATUS", "ann-web   Up", "b         Exited (0)"})
end)

-- A tar stream as `docker cp CONTAINER:/etc -` writes it, holding `files` (name = text).
local function tar(files)
  local parts = {}
  for _, name in ipairs({"etc/passwd", "etc/group"}) do
    local text = files[name]
    local header = name .. string.rep("\0", 100 - #name) .. string.rep("0", 24) .. string.format("%011o\0", #text)
    header = header .. string.rep("\0", 156 - #header) .. "0"
    parts[#parts + 1] = header .. string.rep("\0", 512 - #header)
    parts[#parts + 1] = text .. string.rep("\0", (512 - #text % 512) % 512)
  end
  return table.concat(parts) .. string.rep("\0", 1024)
end

t.test("an image's user gets the host's uid in a derived image: passwd and group copied in, then committed", function()
  local host = {name = "ann", uid = 1001, gid = 1002, home = "/home/ann"}
  local inspected = {Id = "sha256:" .. string.rep("c", 64), Config = {User = "docker-user", Cmd = {"bash"}}}
  t.stub(dstack.docker, "inspect_image", function() return nil end)
  t.stub(dstack.docker, "query", function(args)
    t.equal(args, {"cp", "--follow-link", "made1:/etc", "-"})
    return tar{["etc/passwd"] = "root:x:0:0:root:/root:/bin/bash\ndocker-user:x:1000:1000::/home/docker-user:/bin/bash\n",
      ["etc/group"] = "root:x:0:\ndocker-user:x:1000:\n"}
  end)
  t.stub(dstack.log, "info", function() end)
  local commands, copied = {}, {}
  t.stub(dstack.docker, "change", function(args)
    commands[#commands + 1] = table.concat(args, " ")
    if args[1] == "cp" then
      local folder = args[2]:gsub("/%.$", "")
      copied = {passwd = dstack.fs.read(folder .. "/passwd"), group = dstack.fs.read(folder .. "/group")}
    end
    return {code = 0, stdout = args[1] == "create" and "made1\n" or "", stderr = ""}
  end)
  local derived = containers.with_host_user("team/app:24.01.01", inspected, "docker-user", host)
  t.equal(derived, {image = "dstack-user/app:cccccccccccc-1001-1002", user = "docker-user", home = "/home/docker-user"})
  t.equal(copied.passwd, "root:x:0:0:root:/root:/bin/bash\ndocker-user:x:1001:1002::/home/docker-user:/bin/bash\n")
  t.equal(copied.group, "root:x:0:\ndocker-user:x:1000:docker-user\ndstack-host:x:1002:\n",
    "the user stays in its group, and the host's gid gets one")
  t.equal(commands[1], "create --label=io.dstack.derivation=1 " .. inspected.Id)
  t.equal(commands[#commands - 1], "commit --change=USER docker-user --change=LABEL io.dstack.derived-from="
    .. inspected.Id .. " io.dstack.uid=1001 io.dstack.home=\"/home/docker-user\" made1 dstack-user/app:cccccccccccc-1001-1002")
  t.equal(commands[#commands], "rm --force --volumes made1", "the container it was made from goes")
end)

return t.run()
