import ArgumentParser
import DstackHost

struct APIReference: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "api-reference", abstract: "Print the Lua host API reference (Markdown).")

  func run() { print(HostAPI.reference(), terminator: "") }
}
