import ArgumentParser
import DstackEngine

struct MakeDatetimeVersion: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "make-datetime-version", abstract: "Print the current datetime version, YYYYMMDD-HHMMSS (UTC).")

  func run() { print(ImageVersion.datetime()) }
}
