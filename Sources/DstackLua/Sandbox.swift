/// What a dstack script may use, applied to a fresh `LuaVM` before the script runs.
///
/// Scripts get the string, table, math, utf8 and coroutine libraries, `print`, and the
/// harmless parts of the base and os libraries. Everything that touches the machine
/// (`io`, `os.execute`, `io.popen`, `loadfile`, `dofile`, `debug`, C modules) is replaced
/// by a stub that raises "… is not available to dstack scripts" and names what to use
/// instead. `require` finds only modules shipped beside the scripts (`lib/NAME.lua`).
/// Globals are locked: assigning or reading an undeclared global is an error.
package enum Sandbox {
  /// The global names a script sees; a test checks the sandbox against this list.
  package static let globals: Set<String> = [
    "_G", "_VERSION", "assert", "collectgarbage", "coroutine", "debug", "dofile", "dstack",
    "error", "getmetatable", "io", "ipairs", "load", "loadfile", "math", "next", "os",
    "package", "pairs", "pcall", "print", "rawequal", "rawget", "rawlen", "rawset", "require",
    "select", "setmetatable", "string", "table", "tonumber", "tostring", "type", "utf8",
    "warn", "xpcall",
  ]

  /// Applies the sandbox. `moduleSource` returns the source of `lib/NAME.lua` for
  /// `require("NAME")` as `{source, chunkname}`, or nil and a message.
  package static func apply(to vm: LuaVM, moduleSource: HostFunction) throws(LuaError) {
    _ = try vm.run(source: Array(prelude.utf8), chunkName: "=dstack sandbox", arguments: [.function(moduleSource)])
  }

  private static let prelude = #"""
    local module_source = ...
    local error, select, setmetatable, tostring, type = error, select, setmetatable, tostring, type
    local rawload, format = load, string.format

    local function refusal(name, instead)
      local message = name .. " is not available to dstack scripts"
      if instead then message = message .. "; use " .. instead end
      return message
    end

    local function unavailable(name, instead)
      local message = refusal(name, instead)
      return function() error(message, 2) end
    end

    -- A library table holding only `kept`; reading any other field raises a clear error
    -- at the script line that reads it.
    local function guarded(library, kept, instead)
      return setmetatable(kept, {
        __index = function(_, key)
          error(refusal(library .. "." .. tostring(key), instead[key] or instead[1]), 2)
        end,
        __metatable = false,
      })
    end

    -- Text chunks only: binary chunks can crash the interpreter.
    load = function(chunk, chunkname, _, ...)
      if select("#", ...) > 0 then return rawload(chunk, chunkname, "t", ...) end
      return rawload(chunk, chunkname, "t")
    end
    dofile = unavailable("dofile", "require")
    loadfile = unavailable("loadfile", "require")

    os = guarded("os", { clock = os.clock, date = os.date, difftime = os.difftime, time = os.time }, {
      execute = "dstack.proc.run or dstack.docker.change",
      getenv = "dstack.env.get",
      exit = "a return value from the script (its exit status)",
      remove = "dstack.fs.remove",
      rename = "dstack.fs.rename",
      tmpname = "dstack.fs.tmpdir",
    })
    io = guarded("io", {}, {
      "dstack.fs.read or dstack.fs.write",
      popen = "dstack.proc.run",
      write = "print",
      read = "dstack.fs.read",
      lines = "dstack.fs.read",
    })
    debug = guarded("debug", {}, { "dstack.log.debug" })

    local function valid_module_name(name)
      if type(name) ~= "string" or name == "" then return false end
      for word in (name .. "."):gmatch("(.-)%.") do
        if not word:match("^[%a_][%w_]*$") then return false end
      end
      return true
    end

    package.loaded.os, package.loaded.io, package.loaded.debug = os, io, debug
    package.path, package.cpath = "", ""
    package.loadlib = unavailable("package.loadlib")
    package.searchpath = unavailable("package.searchpath")
    package.searchers = {
      package.searchers[1], -- package.preload
      function(name)
        if not valid_module_name(name) then
          return format("\n\tno module '%s' (module names are words separated by dots)", tostring(name))
        end
        local found, chunkname = module_source(name)
        if not found then return "\n\t" .. chunkname end
        local loader, message = rawload(found, chunkname, "t")
        if not loader then error(message, 0) end
        return loader, chunkname
      end,
    }

    setmetatable(_G, {
      __newindex = function(_, name)
        error(format("assignment to undeclared global '%s' (declare it local)", tostring(name)), 2)
      end,
      __index = function(_, name)
        error(format("undefined global '%s'", tostring(name)), 2)
      end,
      __metatable = false,
    })
    """#
}
