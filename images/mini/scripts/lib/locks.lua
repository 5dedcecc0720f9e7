-- locks: which lock file a build installs a Python project's dependencies from, so a
-- team's image of one commit holds the same packages whoever builds it, and when.
--
-- A lock sits beside pyproject.toml, at the project's root: `uv.lock`, else `pylock.toml`
-- (PEP 751), found in that order; the `lock` setting (`# dstack: lock=` or `[tool.dstack]
-- lock`) names another, such as a `requirements.txt` with pins and hashes, or `none`.
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

-- The lock of the project at `root` with settings `settings` (`lock`), unless `no_lock`:
-- `{name, path, digest}`, or nil and why there is none (for --dry-run and doctor). Raises one
-- line for a lock it cannot use.
function M.find(root, settings, no_lock)
  local fs = dstack.fs
  if no_lock then return nil, "--no-lock" end
  if not trust.counts(fs.join(root, "pyproject.toml")) then return nil, "no pyproject.toml" end
  local name = settings.lock
  if name == "none" then return nil, "lock = none" end
  if name and (name:find("/", 1, true) or not (name:match("%.txt$") or name == "uv.lock" or name:match("^pylock%..*toml$"))) then
    error("lock = " .. name .. ": a lock is a file beside pyproject.toml: uv.lock, pylock.toml, pylock.NAME.toml or "
      .. "a requirements file (*.txt), or none", 0)
  end
  for _, candidate in ipairs(name and {name} or M.found_by_default) do
    local path = fs.join(root, candidate)
    if trust.counts(path) then return {name = candidate, path = path, digest = assert(fs.digest(path))} end
    if name then
      error("lock = " .. name .. ": there is no such file in " .. root .. " (or it does not count as yours: "
        .. "dstack run-script doctor says why)", 0)
    end
  end
  if fs.exists(fs.join(root, "poetry.lock")) then
    error("poetry.lock is not read by dstack: export it (`poetry export --format requirements.txt --output "
      .. "requirements.txt`) and name it with `lock = requirements.txt`, or build with --no-lock", 0)
  end
  return nil, "no uv.lock or pylock.toml"
end

-- The build arguments that pass `lock` (from `find`, or nil) to a Dockerfile that declares
-- `ARG DSTACK_LOCK` (`dockerfile_text`); a lock that the Dockerfile would not get is said.
function M.build_args(lock, dockerfile_text, dockerfile)
  if not docker.declares_arg(dockerfile_text, M.build_arg) then
    if lock then
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

return M
