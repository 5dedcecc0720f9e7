import ArgumentParser
import DstackEngine
import DstackHost
import FoundationEssentials

struct Scripts: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "scripts",
    abstract: "Show which mini image a run would use, and its scripts.",
    discussion: """
      Prints the mini's tag and digest, where it came from (registry, local engine, \
      cache or the built-in scripts), what was skipped and why, and the scripts it has.
      """)

  @OptionGroup var miniOptions: MiniOptions
  @OptionGroup var lookup: LookupOptions
  @OptionGroup var output: OutputOptions

  func run() throws {
    let environment = HostEnvironment.current()
    let services = HostServices(
      environment: environment, logger: output.logger(environment), policy: lookup.policy(environment))
    let selection = try miniOptions.selection(services: services)
    print("mini:     \(selection.label)")
    let age = Int(Date().timeIntervalSince(selection.resolvedAt))
    let when = age < 2 ? "looked up now" : "looked up \(age / 60) min \(age % 60) s ago (--refresh to look again)"
    print("from:     \(selection.origin.rawValue), \(when)")
    print("setting:  \(selection.setting)")
    for skipped in selection.skipped {
      print("skipped:  \(skipped.tag): \(skipped.reason)")
    }
    print("scripts:  \(selection.source.scriptNames.joined(separator: ", "))")
  }
}
