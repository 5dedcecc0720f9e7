import FoundationEssentials

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// What dstack reads from the machine, once, when it starts: the environment, the
/// current folder, the user's home, the docker CLI's configuration folder and the
/// cache folder. The command line builds it and passes it down; nothing below reads
/// the process environment itself.
package struct HostEnvironment: Sendable {
  /// The environment variables (children inherit them; PATH is looked up in them).
  package let variables: [String: String]
  /// The current folder (absolute).
  package let currentDirectory: String
  /// The user's home folder: `HOME`, else the password database's.
  package let home: String
  /// The docker CLI's configuration folder: `DOCKER_CONFIG`, else `~/.docker`.
  package let dockerConfigDirectory: String
  /// The docker CLI's `config.json` in that folder as it was at start (nil when there is none).
  package let dockerConfigFile: Data?
  /// dstack's cache: `DSTACK_CACHE_DIR`, else `$XDG_CACHE_HOME/dstack`, else `~/.cache/dstack`.
  package let cacheDirectory: String

  package init(variables: [String: String], currentDirectory: String) {
    self.variables = variables
    self.currentDirectory = Paths.absolute(currentDirectory, from: "/")
    let home =
      variables["HOME"].flatMap { $0.isEmpty ? nil : $0 }
      ?? getpwuid(getuid()).flatMap { $0.pointee.pw_dir.map { String(cString: $0) } } ?? "/"
    self.home = home
    self.dockerConfigDirectory = variables["DOCKER_CONFIG"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.docker"
    self.dockerConfigFile = FileManager.default.contents(atPath: dockerConfigDirectory + "/config.json")
    if let explicit = variables["DSTACK_CACHE_DIR"], !explicit.isEmpty {
      cacheDirectory = explicit
    } else if let xdg = variables["XDG_CACHE_HOME"], xdg.hasPrefix("/") {
      cacheDirectory = xdg + "/dstack"
    } else {
      cacheDirectory = home + "/.cache/dstack"
    }
  }

  /// This process's environment and current folder.
  package static func current() -> HostEnvironment {
    HostEnvironment(
      variables: ProcessInfo.processInfo.environment, currentDirectory: FileManager.default.currentDirectoryPath)
  }

  /// True when `DSTACK_OFFLINE` asks dstack not to contact registries.
  package var asksOffline: Bool { ["1", "true", "yes"].contains(variables["DSTACK_OFFLINE"]?.lowercased() ?? "") }

  /// Where a script's line coverage is appended (`DSTACK_LUA_COVERAGE`, for the Lua tests),
  /// or nil: one line per line that ran, `CHUNK<TAB>LINE<TAB>COUNT`.
  package var lineCoverageFile: String? {
    guard let file = variables["DSTACK_LUA_COVERAGE"], !file.isEmpty else { return nil }
    return file
  }

  /// Where temporary files go: `TMPDIR`, else `/tmp`.
  package var temporaryDirectory: String {
    guard let folder = variables["TMPDIR"], !folder.isEmpty else { return "/tmp" }
    return folder.hasSuffix("/") && folder.count > 1 ? String(folder.dropLast()) : folder
  }

  /// True when colour may be used on a terminal (`NO_COLOR` is unset).
  package var allowsColour: Bool { variables["NO_COLOR"] == nil }
}

/// How look-ups treat registries and remembered answers, for every command alike.
package struct LookupPolicy: Sendable {
  /// Ask no registry: only the local engine and the cache.
  package let offline: Bool
  /// Do not trust remembered look-ups: ask registries again.
  package let refresh: Bool

  package init(offline: Bool, refresh: Bool) {
    self.offline = offline
    self.refresh = refresh
  }

  /// How long a look-up (a mini's tags, a repository's tag list) is trusted: 10 minutes.
  package static let lifetime: TimeInterval = 600

  /// How long a failed look-up is remembered before the registry is asked again: 30
  /// seconds, so a registry that was down for a moment costs one wait, not ten minutes.
  package static let failureLifetime: TimeInterval = 30

  /// Whether a look-up made at `madeAt` may still be used `now`, for `lifetime` seconds. One
  /// dated more than a minute ahead of `now` (made while the clock was ahead, and set back
  /// since) is never used, so a wrong clock cannot make a look-up last for months.
  package static func isFresh(madeAt: Date, lifetime: TimeInterval, now: Date = Date()) -> Bool {
    let age = now.timeIntervalSince(madeAt)
    return age > -60 && age < lifetime
  }
}

/// The running dstack: its version and the platform it runs on, in Docker's words.
package enum DstackRelease {
  /// This host's version.
  package static let version = "0.1.0"

  /// Where this binary came from: `commit 1a2b3c4d5e6f`, with `, modified` when tracked
  /// files differed from it (stamped at build time by the StampBuild plugin).
  package static let build =
    BuildStamp.commit == "unknown"
    ? "commit unknown" : "commit \(BuildStamp.commit.prefix(12))" + (BuildStamp.isDirty ? ", modified" : "")

  /// The operating system: `linux` or `darwin`.
  package static var operatingSystem: String {
    #if os(Linux)
      "linux"
    #else
      "darwin"
    #endif
  }

  /// The CPU architecture: `amd64`, `arm64`, …
  package static var architecture: String {
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
}
