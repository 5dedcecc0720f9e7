-- Tests of lib/locks.lua: which lock a build installs from, and what it tells docker.
local t = require("testing")
local locks = require("locks")

t.test("uv.lock first, then pylock.toml; the lock setting names another, or none", function()
  local both = t.scratch{["pyproject.toml"] = "", ["uv.lock"] = "version = 1\n", ["pylock.toml"] = "", ["req.txt"] = ""}
  local found = locks.find(both, {})
  t.equal({found.name, found.path}, {"uv.lock", both .. "/uv.lock"})
  t.equal(found.digest, dstack.fs.digest(both .. "/uv.lock"))
  t.equal(locks.find(both, {lock = "req.txt"}).name, "req.txt")
  t.equal({locks.find(both, {lock = "none"})}, {nil, "lock = none"})
  t.equal({locks.find(both, {}, true)}, {nil, "--no-lock"})
  t.equal(locks.find(t.scratch{["pyproject.toml"] = "", ["pylock.toml"] = ""}, {}).name, "pylock.toml")
  t.equal({locks.find(t.scratch{["pyproject.toml"] = ""}, {})}, {nil, "no uv.lock or pylock.toml"})
  t.equal({locks.find(t.scratch{["uv.lock"] = ""}, {})}, {nil, "no pyproject.toml"})
end)

t.test("a lock it cannot use is refused in one line: poetry.lock, a path, a missing file", function()
  local poetry = t.scratch{["pyproject.toml"] = "", ["poetry.lock"] = ""}
  t.raises(function() locks.find(poetry, {}) end, "poetry.lock is not read by dstack: export it (`poetry export "
    .. "--format requirements.txt --output requirements.txt`) and name it with `lock = requirements.txt`, or build with --no-lock")
  t.equal(locks.find(poetry, {}, true), nil, "--no-lock builds it unlocked")
  for _, outside in ipairs({"../requirements.txt", "/etc/requirements.txt", "deps/../../r.txt", "setup.py"}) do
    t.raises(function() locks.find(poetry, {lock = outside}) end,
      "lock = " .. outside .. ": a lock is a file in the project (a path below its root): uv.lock, pylock.toml, "
        .. "pylock.NAME.toml or a requirements file (*.txt); or none")
  end
  local image = t.scratch{["docker/requirements.txt"] = "six==1.15.0\n"}
  t.equal(locks.find(image, {lock = "docker/requirements.txt"}).name, "docker/requirements.txt",
    "named, a lock needs no pyproject.toml (py3's own)")
  t.raises(function() locks.find(poetry, {lock = "requirements.txt"}) end,
    "lock = requirements.txt: there is no such file in " .. poetry
    .. " (or it does not count as yours: dstack run-script doctor says why)")
end)

t.test("the lock reaches a Dockerfile that takes DSTACK_LOCK; one that does not is told", function()
  local lock = {name = "uv.lock", digest = "sha256:" .. string.rep("a", 64)}
  t.equal(locks.build_args(lock, "FROM x\nARG DSTACK_LOCK=none\n", "docker/Dockerfile"), {DSTACK_LOCK = "uv.lock"})
  t.equal(locks.build_args(nil, "FROM x\narg DSTACK_LOCK\n", "docker/Dockerfile"), {DSTACK_LOCK = "none"})
  local warned = {}
  t.stub(dstack.log, "warn", function(text) warned[#warned + 1] = text end)
  t.equal(locks.build_args(lock, "FROM x\nARG DSTACK_LOCKS\n", "docker/Dockerfile"), {})
  t.equal(warned, {"uv.lock is not used: docker/Dockerfile has no `ARG DSTACK_LOCK` before its pip-install-dependencies "
    .. "step (and no COPY of the lock beside pyproject.toml), as `init` writes them"})
  t.equal(locks.build_args({name = "docker/requirements.txt"}, "COPY requirements.txt /tmp/\n", "docker/Dockerfile"), {})
  t.equal(locks.build_args(nil, "FROM x\n", "docker/Dockerfile"), {})
  t.equal(#warned, 1, "no lock, nothing to say")
end)

t.test("lock runs py3's uv in a container that writes as the user, or the host's uv; failures are one line", function()
  local root = t.scratch{["pyproject.toml"] = ""}
  t.environment{UV_INDEX_URL = "https://user:secret@index.example.com/simple"}
  t.engine{images = {}, registry = {}}
  t.stub(dstack.env, "user", function() return {name = "ann", uid = 1001, gid = 1002, home = "/home/ann"} end)
  t.stub(dstack.proc, "which", function() return nil end)
  local ran
  local answer = {code = 0, stdout = "", stderr = ""}
  t.stub(dstack.docker, "change", function(args)
    ran = args
    return answer
  end)
  t.equal(locks.lock_with_uv(root, "team/py3:26.12.07", {"--upgrade"}), true)
  t.equal(table.concat(ran, " "), "run --rm --user=1001:1002 --volume=" .. root .. ":/dstack/project "
    .. "--workdir=/dstack/project --env=UV_CACHE_DIR=/tmp/uv-cache --entrypoint=uv --env=UV_INDEX_URL "
    .. "team/py3:26.12.07 lock --upgrade")
  answer = {code = 127, stdout = "", stderr = "docker: exec: \"uv\": executable file not found in $PATH\n"}
  t.equal({locks.lock_with_uv(root, "team/py3:24.01.01", {})},
    {nil, "team/py3:24.01.01 has no uv (py3 older than 26.12.07): build a newer py3, or install uv"})
  answer = {code = 2, stdout = "", stderr = "error: No solution found\n"}
  t.equal({locks.lock_with_uv(root, "team/py3:26.12.07", {})}, {nil, "uv lock failed (exit 2): error: No solution found"})
  t.stub(dstack.proc, "which", function() return "/usr/bin/uv" end)
  local argv
  t.stub(dstack.proc, "run", function(words)
    argv = words
    return {code = 0, stdout = "", stderr = ""}
  end)
  t.equal(locks.lock_with_uv(root, "", {}), true)
  t.equal(argv, {"/usr/bin/uv", "lock", "--directory", root})
end)

t.test("a lock that is a link out of the project is refused: its text would go into the image", function()
  local secret = t.scratch{["id_rsa"] = "PRIVATE KEY\n"}
  local root = t.scratch{["pyproject.toml"] = ""}
  assert(dstack.proc.run({"ln", "-s", secret .. "/id_rsa", root .. "/uv.lock"}).code == 0)
  t.raises(function() locks.find(root, {}) end, "uv.lock in " .. root .. " is not a file inside the project (a link "
    .. "out of it?); dstack reads a lock only from the project itself: make it a file there, or build with --no-lock")
  assert(dstack.proc.run({"ln", "-s", secret .. "/id_rsa", root .. "/req.txt"}).code == 0)
  t.raises(function() locks.find(root, {lock = "req.txt"}) end, "req.txt in " .. root .. " is not a file inside")
  t.equal(locks.find(root, {}, true), nil, "--no-lock reads none")
end)

return t.run()
