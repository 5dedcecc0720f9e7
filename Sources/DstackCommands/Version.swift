import ArgumentParser
import DstackHost

struct Version: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "version", abstract: "Show the dstack version and its host API level.")

  /// `dstack 0.1.0 (host API level 1)`, also printed by `--version`.
  static let banner = "dstack \(HostAPI.hostVersion) (host API level \(HostAPI.level))"

  func run() { print(Self.banner) }
}
