-- allowances: docker options that come from a project's files (`# dstack: run-options=` and
-- `test-options=` in docker/Dockerfile, `test-options` in [tool.dstack] of pyproject.toml)
-- are input, not trust, as direnv treats .envrc. lib/run_options.lua reads them as docker
-- does and judges each against a short list of options that stay inside the container;
-- every other option reaches the host and is refused until the user allows that file with
-- `dstack run-script allow`, which records in $XDG_CONFIG_HOME/dstack/allowed.json (else
-- ~/.config/dstack) the file's content digest and the words docker gets for its options,
-- host paths as they resolve then: a changed file, or a link on the way that now leads
-- elsewhere, needs allowing again. Only options are taken: no positional words, and none
-- of dstack's own options. `# dstack: cluster=` (lib/swarm.lua) needs the same: it picks
-- which of the user's docker contexts receives a job.
--
--   local allowances = require("allowances")
--   local words = allowances.options(text, {file = PATH, setting = "run-options", root = ROOT, refused = NAMES})
dstack.require_api(3) -- dstack.fs.digest, dstack.fs.counts (lib/trust.lua)

local run_options = require("run_options")

local M = {}

-- Where allowed files are recorded.
function M.record_path()
  local config = dstack.env.get("XDG_CONFIG_HOME")
  if not config or config:sub(1, 1) ~= "/" then config = dstack.fs.join(dstack.fs.home(), ".config") end
  return dstack.fs.join(config, "dstack", "allowed.json")
end

local warned = false

-- The allowed files: path -> {digest, options = {setting -> words}}. The record counts only
-- when the user owns it and no one else can write it (else it is ignored, with a warning).
local function allowed()
  local path = M.record_path()
  local info = dstack.fs.stat(path)
  if not info then return {} end
  if info.uid ~= dstack.env.user().uid or info.mode & 18 ~= 0 then
    if warned then return {} end
    warned = true
    dstack.log.warn(string.format("ignoring %s: %s; remove it, or make it yours alone (chmod 600)", path,
      info.uid ~= dstack.env.user().uid and ("it belongs to uid " .. info.uid) or
      string.format("other users can write it (mode %o)", info.mode & 511)))
    return {}
  end
  local text = dstack.fs.read(path)
  local record = text and dstack.json.decode(text)
  return type(record) == "table" and record or {}
end

local function split(text)
  local words = {}
  for word in text:gmatch("%S+") do words[#words + 1] = word end
  return words
end

-- The options of setting `text` (a string, or a list of words), judged
-- (lib/run_options.lua); `where` as for `options`.
function M.judge(text, where)
  return run_options.judge(type(text) == "table" and text or split(text), {
    root = where.root, where = where.setting .. " in " .. where.file, refused = where.refused,
  })
end

-- "OPTION (why)" for each judged option that needs allowing (`key` "needs") or that is
-- never passed (`key` "never").
local function reasons(judged, key)
  local found = {}
  for _, verdict in ipairs(judged) do
    if verdict[key] then found[#found + 1] = verdict.text .. " (" .. verdict[key] .. ")" end
  end
  return found
end

-- What the options in `judged` reach on the host, as "OPTION (why)" each.
function M.host_options(judged) return reasons(judged, "needs") end

-- The words docker gets for the options of setting `where.setting` (`run-options`,
-- `test-options`, `services.NAME`) from a project file, `text` (a string, or a list of
-- words, see `judge`): `where.file` (its path), `where.root` (the project),
-- `where.refused` (a set of dstack's own option names that may not appear). Raises one
-- line when a word is not an option docker has, is one of dstack's, is never passed, or
-- reaches the host and the file is not allowed as it is now.
function M.options(text, where)
  local label = where.setting .. " in " .. where.file
  local judged = M.judge(text, where)
  local never = reasons(judged, "never")
  if #never > 0 then
    error(label .. ": " .. table.concat(never, ", ") .. "; dstack never passes " .. (#never > 1 and "these" or "this")
      .. ", allowed or not: remove " .. (#never > 1 and "them" or "it"), 0)
  end
  local host = M.host_options(judged)
  local is_allowed, why = M.is_allowed(where.file, {[where.setting] = run_options.words(judged, true)})
  if #host > 0 and not is_allowed then
    error(label .. " asks for options that reach the host: " .. table.concat(host, ", ") .. "; "
      .. (why and (why .. ". ") or "") .. "read them, then allow them with `dstack run-script allow` in "
      .. where.root .. ", or remove them", 0)
  end
  local words = run_options.words(judged, is_allowed)
  if dstack.is_dry_run() and #judged > 0 then
    dstack.log.info("options from " .. label .. (is_allowed and " (allowed)" or "") .. ": " .. table.concat(words, " "))
  end
  return words
end

local function same_words(a, b)
  if type(a) ~= "table" or #a ~= #b then return false end
  for index, word in ipairs(b) do
    if a[index] ~= word then return false end
  end
  return true
end

-- Whether the file at `file` is allowed as it is now: its digest as recorded, and the
-- words of each setting in `resolved` (setting -> words) as recorded. Else false and why
-- not, for a file that was allowed before.
function M.is_allowed(file, resolved)
  local recorded = allowed()[file]
  if recorded == nil then return false end
  if type(recorded) ~= "table" or recorded.digest ~= dstack.fs.digest(file) then
    return false, type(recorded) == "string" and recorded == dstack.fs.digest(file)
      and "dstack now also records where the options lead, so allow it once more"
      or "the file changed since you allowed it"
  end
  for setting, words in pairs(resolved or {}) do
    if not same_words((recorded.options or {})[setting], words) then
      return false, "what its " .. setting .. " reach changed since you allowed it (a link on the way now leads "
        .. "elsewhere)"
    end
  end
  return true
end

-- Returns when the file at `file` is allowed as it is now (see `is_allowed`); else raises
-- one line: `refusal` (what the file asks for), why an earlier allow no longer holds, and
-- `advice` (what to do).
function M.require(file, refusal, advice, resolved)
  local is_allowed, why = M.is_allowed(file, resolved)
  if is_allowed then return end
  error(refusal .. "; " .. (why and (why .. ". ") or "") .. advice, 0)
end

-- Why `# dstack: cluster=CONTEXT` in a project's file needs allowing: it would choose, for
-- the user, which of their docker contexts receives the job and their registry credentials.
function M.cluster_reason(context)
  return "picks docker context " .. context .. " for the job, which receives your registry credentials for its image"
end

-- Records the file at `path` as allowed with `digest`, the digest it had when its
-- settings were read (raises when it has changed since), and `resolved` (setting -> the
-- words docker gets once allowed).
function M.allow(path, digest, resolved)
  if dstack.fs.digest(path) ~= digest then
    error(path .. " changed while dstack read it; run `dstack run-script allow` again", 0)
  end
  local record = allowed()
  record[path] = {digest = digest, options = resolved}
  local file = M.record_path()
  assert(dstack.fs.mkdir(dstack.fs.dirname(file)))
  assert(dstack.fs.write(file, dstack.json.encode(record, {pretty = true}) .. "\n", {mode = "600"}))
end

return M
