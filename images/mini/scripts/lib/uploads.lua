-- uploads: where `release --upload` sends a package, and what twine and the index answer,
-- as release.lua reads them.
--
--   local uploads = require("uploads")
--   uploads.index_for("https://upload.pypi.org/legacy/")   -- "https://pypi.org/simple/"
local M = {}

-- Whether `host` (a URL's host: a name, an IPv4 address or an IPv6 one without brackets)
-- is this machine's loopback: `localhost`, 127.0.0.0/8 written as four decimal numbers,
-- or ::1. Anything else (127.0.0.1.example.com, 127.1) is not.
function M.is_loopback(host)
  if host == "localhost" or host == "::1" then return true end
  local octets = {host:match("^127%.(%d+)%.(%d+)%.(%d+)$")}
  if #octets ~= 3 then return false end
  for _, octet in ipairs(octets) do
    if #octet > 3 or tonumber(octet) > 255 then return false end
  end
  return true
end

-- The last line of `output` worth showing as a reason (twine's ERROR line when there is one).
function M.reason(output)
  local found
  for line in output:gsub("\27%[[%d;]*m", ""):gmatch("[^\n]+") do
    line = line:gsub("^%s+", ""):gsub("%s+$", "")
    if line:match("^ERROR") then return line end
    if line ~= "" then found = line end
  end
  return found or "no output"
end

-- Why an upload to `url` failed, and which of `files` reached the index: twine sends them
-- one by one, saying "Uploading NAME" before each, and stops at the first that fails.
function M.failure(url, files, output)
  local sent = {}
  for name in output:gsub("\27%[[%d;]*m", ""):gmatch("Uploading (%S+)") do
    for _, file in ipairs(files) do
      if file == name then sent[#sent + 1] = name end
    end
  end
  local failed_on = table.remove(sent)
  local rest = {}
  for _, file in ipairs(files) do
    local reached = false
    for _, name in ipairs(sent) do reached = reached or name == file end
    if not reached then rest[#rest + 1] = "dist/" .. file end
  end
  local message = "the upload to " .. url .. " failed" .. (failed_on and " on " .. failed_on or "") .. ": "
    .. M.reason(output) .. "; "
  if #sent == 0 then return message .. "nothing reached the index; dist/ holds " .. table.concat(files, ", ") end
  return message .. table.concat(sent, ", ") .. " reached the index, the rest did not: once the cause is fixed, "
    .. "upload it with `twine upload --repository-url " .. url .. " " .. table.concat(rest, " ") .. "`"
end

-- The docker run options of a container that reaches `url`: `network` when given, else the
-- host's network for a loopback address, else none.
function M.network_for(url, network)
  if network then return {"--network=" .. network} end
  local authority = (url:match("^%a[%w+.-]*://([^/?#]*)") or ""):gsub("^.*@", "")
  local host = authority:match("^%[([^%]]+)%]") or authority:match("^[^:]*")
  return M.is_loopback(host) and {"--network=host"} or {}
end

-- scheme://host:port of `url`, to tell whether two URLs name the same server.
function M.origin(url)
  local scheme, authority = url:lower():match("^(%a[%w+.-]*)://([^/?#]*)")
  if not scheme then return url end
  authority = authority:gsub("^.*@", "")
  if not authority:match(":%d+$") then authority = authority .. (scheme == "https" and ":443" or ":80") end
  return scheme .. "://" .. authority
end

-- The index (simple API, PEP 503) that shows what was uploaded to `upload_url`: PyPI's and
-- TestPyPI's, else the upload URL without a trailing /legacy, with /simple/.
function M.index_for(upload_url)
  if upload_url:match("^https://upload%.pypi%.org/") then return "https://pypi.org/simple/" end
  if upload_url:match("^https://test%.pypi%.org/") then return "https://test.pypi.org/simple/" end
  return upload_url:gsub("/+$", ""):gsub("/legacy$", "") .. "/simple/"
end

return M
