import ArgumentParser
import DstackEngine

struct MakeDateVersion: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Print today's date version, YY.MM.DD (UTC).")

  func run() { print(ImageVersion.date()) }
}
