import ArgumentParser
import DstackCore

struct Version: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Show the dstack version and its host API level.")

  func run() {
    print("dstack \(HostAPI.hostVersion) (host API level \(HostAPI.level))")
  }
}

struct MakeDateVersion: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Print today's date version, YY.MM.DD (UTC).")

  func run() { print(ImageVersion.date()) }
}

struct MakeDatetimeVersion: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Print the current datetime version, YYYYMMDD-HHMMSS (UTC).")

  func run() { print(ImageVersion.datetime()) }
}

struct APIReference: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "api-reference", abstract: "Print the Lua host API reference (Markdown).")

  func run() { print(HostAPI.reference(), terminator: "") }
}
