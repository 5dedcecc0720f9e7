-- Tests of lib/certificates.lua: which CA certificates a build passes, and what it says.
local t = require("testing")
local certificates = require("certificates")

local pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"
local takes = "FROM x\nARG EXTRA_CA_CERTIFICATES=\nRUN trust-ca-certificates\n"

t.test("DSTACK_CA_CERTIFICATES names a file or a folder of .crt files (sub-folders too); every PEM is passed", function()
  local folder = t.scratch{["a.crt"] = pem .. "\n", ["sub/b.crt"] = "text\n" .. pem .. "\n" .. pem, ["note.txt"] = pem}
  t.stub(dstack.log, "info", function() end)
  t.environment{DSTACK_CA_CERTIFICATES = folder}
  local args = certificates.build_args(takes)
  t.equal(select(2, args.EXTRA_CA_CERTIFICATES:gsub("BEGIN CERTIFICATE", "")), 3, "a.crt's and sub/b.crt's two")
  t.environment{DSTACK_CA_CERTIFICATES = folder .. "/a.crt"}
  t.equal(certificates.build_args(takes), {EXTRA_CA_CERTIFICATES = pem .. "\n"})
  t.equal(certificates.build_args("FROM x\n"), {}, "a Dockerfile that does not take them gets none")
  t.environment{DSTACK_CA_CERTIFICATES = "none"}
  t.equal(certificates.build_args(takes), {})
end)

t.test("what cannot be read is one line naming the variable and the fix", function()
  local folder = t.scratch{["README"] = "not a certificate"}
  t.raises(function() certificates.read(folder .. "/missing.pem") end, "DSTACK_CA_CERTIFICATES=" .. folder
    .. "/missing.pem: no such file or folder; name a PEM file or a folder of .crt files, or unset it")
  t.raises(function() certificates.read(folder .. "/README") end,
    "DSTACK_CA_CERTIFICATES=" .. folder .. "/README: the file holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
  t.raises(function() certificates.read(folder) end,
    "DSTACK_CA_CERTIFICATES=" .. folder .. ": no .crt file there holds PEM certificate (-----BEGIN CERTIFICATE-----)")
end)

t.test("a failed build that passed none to a Dockerfile that takes them names the likely cause", function()
  t.equal(certificates.hint({EXTRA_CA_CERTIFICATES = pem}, takes), "")
  t.equal(certificates.hint({}, "FROM x\n"), "")
  t.equal(certificates.hint({}, takes):match("^; if pip or curl failed with CERTIFICATE_VERIFY_FAILED") ~= nil, true)
end)

return t.run()
