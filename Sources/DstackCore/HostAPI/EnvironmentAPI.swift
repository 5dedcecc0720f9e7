import Foundation

/// `dstack.env`: the machine and the user.
enum EnvironmentAPI {
  static var namespace: APINamespace {
    APINamespace(
      name: "env",
      summary: "The machine, the user and environment variables.",
      members: [
        .function("get(name) -> string | nil", "An environment variable, or nil when it is not set.") { arguments in
          [ProcessInfo.processInfo.environment[try arguments.string(1)].map(LuaValue.text) ?? .nil]
        },
        .function("os() -> string", "The operating system in Docker's words: `linux` or `darwin`.") { _ in
          #if os(Linux)
            [.text("linux")]
          #else
            [.text("darwin")]
          #endif
        },
        .function("arch() -> string", "The CPU architecture in Docker's words: `amd64`, `arm64`, …") { _ in
          [.text(EnvironmentAPI.dockerArchitecture)]
        },
        .function("user() -> table", "The user running dstack: `{name, uid, gid, home}`.") { _ in
          let uid = getuid()
          let name = getpwuid(uid).flatMap { $0.pointee.pw_name.map { String(cString: $0) } }
          return [
            [
              "name": .text(name ?? ProcessInfo.processInfo.environment["USER"] ?? String(uid)),
              "uid": .integer(Int64(uid)), "gid": .integer(Int64(getgid())),
              "home": .text(ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()),
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
          [EnvironmentAPI.timezone.map(LuaValue.text) ?? .nil]
        },
      ])
  }

  static var dockerArchitecture: String {
    #if arch(x86_64)
      "amd64"
    #elseif arch(arm64)
      "arm64"
    #elseif arch(arm)
      "arm"
    #elseif arch(s390x)
      "s390x"
    #elseif arch(powerpc64le)
      "ppc64le"
    #else
      "unknown"
    #endif
  }

  static var timezone: String? {
    if let zone = ProcessInfo.processInfo.environment["TZ"], !zone.isEmpty {
      return zone.hasPrefix(":") ? String(zone.dropFirst()) : zone
    }
    if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/etc/localtime"),
      let range = target.range(of: "zoneinfo/")
    {
      return String(target[range.upperBound...])
    }
    if let name = try? String(contentsOfFile: "/etc/timezone", encoding: .utf8) {
      let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
      return trimmed.isEmpty ? nil : trimmed
    }
    return nil
  }
}
