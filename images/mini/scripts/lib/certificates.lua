-- certificates: extra CA certificates for builds behind a TLS-intercepting proxy.
--
-- DSTACK_CA_CERTIFICATES names a PEM file, or a folder of `.crt` files (such as the host's
-- /usr/local/share/ca-certificates; its sub-folders too). Unset, the host's own extra CAs
-- in /usr/local/share/ca-certificates are used when there are any (`none` turns this
-- off), so a build behind the proxy the host already trusts works. A Dockerfile that declares
-- `ARG EXTRA_CA_CERTIFICATES` gets their text as that build argument and installs it into
-- the image's trust store (py3's `trust-ca-certificates` does). Verification is never
-- turned off.
local M = {}

M.variable = "DSTACK_CA_CERTIFICATES"
M.build_arg = "EXTRA_CA_CERTIFICATES"

local function crt_files(folder, found)
  for _, name in ipairs(assert(dstack.fs.list(folder))) do
    local path = dstack.fs.join(folder, name)
    if dstack.fs.is_dir(path) then
      crt_files(path, found)
    elseif name:match("%.crt$") then
      found[#found + 1] = path
    end
  end
  return found
end

-- The PEM text of the certificates `path` names (a file or a folder of .crt files);
-- raises a one-line error saying what to fix.
function M.read(path)
  local where = M.variable .. "=" .. path
  if not dstack.fs.exists(path) then
    error(where .. ": no such file or folder; name a PEM file or a folder of .crt files, or unset it", 0)
  end
  local files = dstack.fs.is_dir(path) and crt_files(path, {}) or {path}
  local certificates = {}
  for _, file in ipairs(files) do
    local text, problem = dstack.fs.read(file)
    if not text then error(where .. ": cannot read " .. file .. ": " .. problem, 0) end
    for certificate in text:gmatch("%-%-%-%-%-BEGIN CERTIFICATE%-%-%-%-%-.-%-%-%-%-%-END CERTIFICATE%-%-%-%-%-") do
      certificates[#certificates + 1] = certificate
    end
  end
  if #certificates == 0 then
    error(where .. ": " .. (dstack.fs.is_dir(path) and "no .crt file there holds" or "the file holds no")
      .. " PEM certificate (-----BEGIN CERTIFICATE-----)", 0)
  end
  return table.concat(certificates, "\n") .. "\n", #certificates
end

-- True when the Dockerfile text declares the build argument.
function M.wanted_by(dockerfile_text)
  return require("docker").declares_arg(dockerfile_text, M.build_arg)
end

-- Where Debian and Ubuntu keep the CA certificates an administrator added to the host.
M.host_folder = "/usr/local/share/ca-certificates"

-- The certificates to pass: DSTACK_CA_CERTIFICATES, else the host's extra CAs when it has
-- any; nil for `none` or when there are none.
local function configured()
  local path = dstack.env.get(M.variable)
  if path == "none" then return nil end
  if path and path ~= "" then return path, "" end
  if dstack.fs.is_dir(M.host_folder) and #crt_files(M.host_folder, {}) > 0 then
    return M.host_folder, " (the host's own; " .. M.variable .. "=none turns this off)"
  end
end

-- The build arguments for a Dockerfile: {EXTRA_CA_CERTIFICATES = PEM} when there are
-- certificates to trust (see `configured`) and the Dockerfile takes them, else {}.
function M.build_args(dockerfile_text)
  if not M.wanted_by(dockerfile_text) then return {} end
  local path, note = configured()
  if not path then return {} end
  local pem, count = M.read(path)
  dstack.log.info("trusting " .. count .. " extra CA certificate" .. (count == 1 and "" or "s") .. " from " .. path
    .. note)
  return {[M.build_arg] = pem}
end

-- What to add to a failed build's message when it passed no certificates to a Dockerfile
-- that takes them: the likeliest cause behind a TLS-intercepting proxy, and the fix.
function M.hint(build_args, dockerfile_text)
  if build_args[M.build_arg] or not M.wanted_by(dockerfile_text) then return "" end
  return "; if pip or curl failed with CERTIFICATE_VERIFY_FAILED (a TLS-intercepting proxy), export "
    .. M.variable .. "=FILE-OR-FOLDER with the proxy's CA certificates (the host's extra ones are in "
    .. M.host_folder .. ") and build again"
end

return M
