-- luacheck's settings for the mini's scripts and their tests: scripts/test and
-- scripts/test-lua run `luacheck --config images/mini/.luacheckrc images/mini`, and
-- `cd images/mini && luacheck .` finds them too.
--
-- The standard library is Lua 5.4's as the sandbox leaves it (README, "Writing scripts";
-- Sources/DstackLua/Sandbox.swift): no io, debug, dofile, loadfile or package, and of os
-- only the clock. `dstack` is the one other global, read-only, with the members the host
-- declares (so a misspelled one is a warning). No unused variables,
-- values or arguments (name one `_` when it must be there).
stds.dstack_sandbox = {
  read_globals = {
    "_G", "_VERSION", "assert", "collectgarbage", "error", "getmetatable", "ipairs", "load", "next", "pairs",
    "pcall", "print", "rawequal", "rawget", "rawlen", "rawset", "require", "select", "setmetatable", "tonumber",
    "tostring", "type", "warn", "xpcall",
    coroutine = {fields = {"close", "create", "isyieldable", "resume", "running", "status", "wrap", "yield"}},
    math = {fields = {
      "abs", "acos", "asin", "atan", "ceil", "cos", "deg", "exp", "floor", "fmod", "huge", "log", "max", "maxinteger",
      "min", "mininteger", "modf", "pi", "rad", "random", "randomseed", "sin", "sqrt", "tan", "tointeger", "type", "ult",
    }},
    os = {fields = {"clock", "date", "difftime", "time"}},
    string = {fields = {
      "byte", "char", "dump", "find", "format", "gmatch", "gsub", "len", "lower", "match", "pack", "packsize", "rep",
      "reverse", "sub", "unpack", "upper",
    }},
    table = {fields = {"concat", "insert", "move", "pack", "remove", "sort", "unpack"}},
    utf8 = {fields = {"char", "charpattern", "codepoint", "codes", "len", "offset"}},
    -- The dstack table's members, as the host API declares them (APIReferenceTests checks this).
    dstack = {fields = {
      "api", "host_version", "require_api", "script_file", "is_dry_run", "is_offline",
      "enable_dry_run",
      args = {other_fields = true},
      script = {other_fields = true},
      version = {fields = {
        "date", "datetime", "parse", "compare", "newest", "sort",
      }},
      docker = {fields = {
        "change", "query", "local_tags", "inspect_image", "containers", "parse_reference",
      }},
      registry = {fields = {
        "tags", "manifest",
      }},
      fs = {fields = {
        "read", "write", "remove", "rename", "tmpdir", "stat", "digest", "lock", "unlock", "exists",
        "is_dir", "list", "mkdir", "join", "abspath", "realpath", "counts", "cwd", "home",
        "basename", "dirname",
      }},
      json = {fields = {
        "encode", "decode",
      }},
      yaml = {fields = {
        "decode",
      }},
      env = {fields = {
        "get", "os", "arch", "user", "is_tty", "timezone",
      }},
      proc = {fields = {
        "run", "which", "sleep",
      }},
      log = {fields = {
        "debug", "info", "warn", "error",
      }},
    }},
  },
}
std = "dstack_sandbox"

-- Line length is not checked yet: 42 lines of the scripts are longer than 120 characters,
-- and the toml-test cases (tests/lib/toml_cases.lua) are one case a line.
max_line_length = false
