-- toml_suite: every TOML 1.0 case of a toml-test suite folder, in the shape of
-- toml_cases.lua, read when required. LuaModuleTests runs toml_test.lua with this module in
-- place of the selection, on the suite scripts/test-env downloads (DSTACK_TEST_TOML_SUITE).
local fs = dstack.fs
local suite = assert(dstack.env.get("DSTACK_TEST_TOML_SUITE"), "DSTACK_TEST_TOML_SUITE names no folder")
local list = assert(fs.read(fs.join(suite, "files-toml-1.0.0")))

local cases = {valid = {}, invalid = {}}
for path in list:gmatch("[^\n]+") do
  local kind = path:match("^(%a+)/.*%.toml$")
  if kind then
    local text = assert(fs.read(fs.join(suite, path)))
    local case = {path, text}
    if kind == "valid" then case[3] = assert(fs.read(fs.join(suite, path:sub(1, -6) .. ".json"))) end
    table.insert(cases[kind], case)
  end
end
assert(#cases.valid > 200 and #cases.invalid > 200, suite .. " holds too few cases: is it toml-test?")
return cases
