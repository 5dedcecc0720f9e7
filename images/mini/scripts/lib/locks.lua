-- locks: which lock file a build installs a Python project's dependencies from, so a
-- team's image of one commit holds the same packages whoever builds it, and when.
--
-- A lock sits beside pyproject.toml, at the project's root: `uv.lock`, else `pylock.toml`
-- (PEP 751), found in that order; the `lock` setting (`# dstack: lock=` or `[tool.dstack]
-- lock`) names another file in the project, such as a `requirements.txt` with pins and
-- hashes (py3's own lock is docker/requirements.txt), or `none`.
-- `poetry.lock` is refused with what to do. py3's `pip-install-dependencies` installs it in
-- the build, with its hashes (DSTACK_LOCK names it there), and refuses a stale one.
local docker = require("docker")
local trust = require("trust")

local M = {}

-- The locks found without a setting, first found wins.
M.found_by_default = {"uv.lock", "pylock.toml"}

-- The image label that names the lock and its digest (`uv.lock sha256:…`).
M.label = "io.dstack.lock"

-- The build argument through which a Dockerfile gets the lock's name (`none` without one).
M.build_arg = "DSTACK_LOCK"

-- The lock at `name` in the project at `root`, or nil and why not: it must count (as every
-- project file) and be a file inside the project as the kernel resolves it, since its text
-- goes into the build context and the image (a link to ~/.ssh/id_rsa must not).
local function lock_at(root, name)
  local fs = dstack.fs
  local path = fs.join(root, name)
  if not trust.counts(path) then return nil end
  local real, real_root = fs.realpath(path), fs.realpath(root)
  if not real or not real_root or real:sub(1, #real_root + 1) ~= real_root .. "/" or fs.stat(real).type ~= "file" then
    error(name .. " in " .. root .. " is not a file inside the project (a link out of it?); dstack reads a lock only "
      .. "from the project itself: make it a file there, or build with --no-lock", 0)
  end
  return {name = name, path = path, digest = assert(fs.digest(path))}
end

-- The lock of the project at `root` with settings `settings` (`lock`), unless `no_lock`:
-- `{name, path, digest}` (`name` relative to `root`), or nil and why there is none (for
-- --dry-run and doctor). Raises one line for a lock it cannot use.
function M.find(root, settings, no_lock)
  local fs = dstack.fs
  if no_lock then return nil, "--no-lock" end
  local name = settings.lock
  if name == "none" then return nil, "lock = none" end
  if name then
    local base = fs.basename(name)
    if name:sub(1, 1) == "/" or ("/" .. name .. "/"):find("/../", 1, true)
      or not (base:match("%.txt$") or base == "uv.lock" or base:match("^pylock%..*toml$")) then
      error("lock = " .. name .. ": a lock is a file in the project (a path below its root): uv.lock, pylock.toml, "
        .. "pylock.NAME.toml or a requirements file (*.txt); or none", 0)
    end
    local lock = lock_at(root, name)
    if not lock then
      error("lock = " .. name .. ": there is no such file in " .. root .. " (or it does not count as yours: "
        .. "dstack run-script doctor says why)", 0)
    end
    return lock
  end
  if not trust.counts(fs.join(root, "pyproject.toml")) then return nil, "no pyproject.toml" end
  for _, candidate in ipairs(M.found_by_default) do
    local lock = lock_at(root, candidate)
    if lock then return lock end
  end
  if fs.exists(fs.join(root, "poetry.lock")) then
    error("poetry.lock is not read by dstack: export it (`poetry export --format requirements.txt --output "
      .. "requirements.txt`) and name it with `lock = requirements.txt`, or build with --no-lock", 0)
  end
  return nil, "no uv.lock or pylock.toml"
end

-- The build arguments that pass `lock` (from `find`, or nil) to a Dockerfile that declares
-- `ARG DSTACK_LOCK` (`dockerfile_text`); a lock that the Dockerfile neither gets nor names
-- (one that installs it its own way) is said.
function M.build_args(lock, dockerfile_text, dockerfile)
  if not docker.declares_arg(dockerfile_text, M.build_arg) then
    if lock and not dockerfile_text:find(dstack.fs.basename(lock.name), 1, true) then
      dstack.log.warn(lock.name .. " is not used: " .. dockerfile .. " has no `ARG " .. M.build_arg .. "` before its "
        .. "pip-install-dependencies step (and no COPY of the lock beside pyproject.toml), as `init` writes them")
    end
    return {}
  end
  return {[M.build_arg] = lock and lock.name or "none"}
end

-- How a build's dependencies are chosen, for its log: the lock and its digest, or why none.
function M.describe(lock, why)
  if lock then return "dependencies as " .. lock.name .. " pins them (" .. lock.digest:sub(1, 19) .. ")" end
  return "dependencies at the newest versions pyproject.toml allows (" .. why .. ")"
end

-- Environment variables that tell uv where the index is (and how to reach it), passed by
-- name to a container (their values never on a command line).
local uv_settings = {"UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_INDEX", "UV_EXTRA_INDEX_URL", "UV_NATIVE_TLS",
  "SSL_CERT_FILE", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"}

-- Writes or updates the uv.lock of the project at `root` with `uv lock WORDS...`: the host's
-- uv when it has one, else the one in `image` (py3 has it), in a container that writes as
-- the user. Returns true, or nil and a one-line reason.
function M.lock_with_uv(root, image, words)
  local result, problem
  local uv = dstack.proc.which("uv")
  if uv then
    local argv = {uv, "lock", "--directory", root}
    table.move(words, 1, #words, #argv + 1, argv)
    if dstack.is_dry_run() then
      print(table.concat(argv, " "))
      return true
    end
    result, problem = dstack.proc.run(argv)
  else
    local user = dstack.env.user()
    local as = docker.engine().rootless and "0:0" or (user.uid .. ":" .. user.gid)
    local run = {"run", "--rm", "--user=" .. as, "--volume=" .. root .. ":/dstack/project", "--workdir=/dstack/project",
      "--env=UV_CACHE_DIR=/tmp/uv-cache", "--entrypoint=uv"}
    for _, name in ipairs(uv_settings) do
      if dstack.env.get(name) then run[#run + 1] = "--env=" .. name end
    end
    table.move({image, "lock"}, 1, 2, #run + 1, run)
    table.move(words, 1, #words, #run + 1, run)
    result = dstack.docker.change(run)
  end
  if not result then return nil, problem end
  if result.code == 0 then return true end
  local detail = docker.failure_detail(result.stderr)
  if result.code == 127 and not uv then
    return nil, image .. " has no uv (py3 older than 26.12.07): build a newer py3, or install uv"
  end
  return nil, "uv lock failed (exit " .. result.code .. "): " .. detail
end

return M
