import DstackEngine
import DstackLua
import FoundationEssentials

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// `dstack.env`: the machine and the user.
enum EnvironmentAPI {
  static func namespace(_ context: HostContext) -> APINamespace {
    let environment = context.environment
    return APINamespace(
      name: "env",
      summary: "The machine, the user and environment variables.",
      members: [
        .function("get(name) -> string | nil", "An environment variable, or nil when it is not set.") { arguments in
          [environment.variables[try arguments.string(1)].map(LuaValue.text) ?? .nil]
        },
        .function("os() -> string", "The operating system in Docker's words: `linux` or `darwin`.") { _ in
          [.text(DstackRelease.operatingSystem)]
        },
        .function("arch() -> string", "The CPU architecture in Docker's words: `amd64`, `arm64`, …") { _ in
          [.text(DstackRelease.architecture)]
        },
        .function("user() -> table", "The user running dstack: `{name, uid, gid, home}`.") { _ in
          let uid = getuid()
          let name = getpwuid(uid).flatMap { $0.pointee.pw_name.map { String(cString: $0) } }
          return [
            [
              "name": .text(name ?? environment.variables["USER"] ?? String(uid)),
              "uid": .integer(Int64(uid)), "gid": .integer(Int64(getgid())), "home": .text(environment.home),
            ]
          ]
        },
        .function(
          "is_tty(fd) -> boolean", "True when file descriptor `fd` (0 stdin, 1 stdout, 2 stderr) is a terminal."
        ) {
          arguments in
          [.boolean(isatty(Int32(clamping: try arguments.integer(1))) == 1)]
        },
        .function(
          "timezone() -> string | nil",
          "The host's time zone name (`Europe/Berlin`) from `TZ` or `/etc/localtime`, or nil when unknown."
        ) { _ in
          [EnvironmentAPI.timezone(environment).map(LuaValue.text) ?? .nil]
        },
      ])
  }

  static func timezone(_ environment: HostEnvironment) -> String? {
    if let zone = environment.variables["TZ"], !zone.isEmpty {
      return zone.hasPrefix(":") ? String(zone.dropFirst()) : zone
    }
    if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/etc/localtime"),
      let range = target.firstRange(of: "zoneinfo/")
    {
      return String(target[range.upperBound...])
    }
    if let name = try? String(contentsOfFile: "/etc/timezone", encoding: .utf8) {
      let trimmed = name.trimmed
      return trimmed.isEmpty ? nil : trimmed
    }
    return nil
  }
}
