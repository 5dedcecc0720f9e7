import ArgumentParser
import DstackEngine

struct MakeDateVersion: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "make-date-version", abstract: "Print today's date version, YY.MM.DD (UTC).")

  func run() { print(ImageVersion.date()) }
}
