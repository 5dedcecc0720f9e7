import ArgumentParser
import DstackEngine
import DstackHost

struct Version: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "version", abstract: "Show the dstack version and its host API level.")

  /// `dstack 0.1.0 (commit 1a2b3c4d5e6f, host API level 3)`, also printed by `--version`.
  static let banner = "dstack \(HostAPI.hostVersion) (\(DstackRelease.build), host API level \(HostAPI.level))"

  func run() { print(Self.banner) }
}
