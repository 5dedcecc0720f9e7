-- certificates: extra CA certificates for builds behind a TLS-intercepting proxy.
--
-- DSTACK_CA_CERTIFICATES names a PEM file, or a folder of `.crt` files (such as the host's
-- /usr/local/share/ca-certificates; its sub-folders too). A Dockerfile that declares
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
  for line in (dockerfile_text .. "\n"):gmatch("([^\n]*)\n") do
    if line:match("^%s*[Aa][Rr][Gg]%s+" .. M.build_arg .. "%f[^%w_]") then return true end
  end
  return false
end

-- The build arguments for a Dockerfile: {EXTRA_CA_CERTIFICATES = PEM} when the user names
-- certificates and the Dockerfile takes them, else {}.
function M.build_args(dockerfile_text)
  local path = dstack.env.get(M.variable)
  if not path or path == "" or not M.wanted_by(dockerfile_text) then return {} end
  local pem, count = M.read(path)
  dstack.log.info("trusting " .. count .. " extra CA certificate" .. (count == 1 and "" or "s") .. " from " .. path)
  return {[M.build_arg] = pem}
end

return M
