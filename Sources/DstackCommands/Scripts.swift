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
      cache or the built-in scripts), whether its signature was verified and with which \
      key, what was skipped and why, and the scripts it has.
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
    if selection.imageID != nil {
      print("digest:   \(pin(of: selection))")
    }
    let age = Int(Date().timeIntervalSince(selection.resolvedAt))
    let when = age < 2 ? "looked up now" : "looked up \(age / 60) min \(age % 60) s ago (--refresh to look again)"
    print("from:     \(selection.origin.rawValue), \(when)")
    print("setting:  \(selection.setting)")
    print("signed:   \(signature(of: selection))")
    for skipped in selection.skipped {
      print("skipped:  \(skipped.tag): \(skipped.reason)")
    }
    print("scripts:  \(selection.source.scriptNames.joined(separator: ", "))")
  }

  /// The reference that pins this mini (its manifest digest), and its image ID as detail.
  private func pin(of selection: MiniSelection) -> String {
    let imageID = selection.imageID.map { "image ID \($0)" } ?? ""
    guard let digest = selection.manifestDigest else {
      return "none: only the local engine has this mini (publish it to pin it); \(imageID)"
    }
    return "\(selection.repository)@\(digest) (pin it in \(MiniSetting.pinFileName)); \(imageID)"
  }

  /// Whether the mini's signature was verified, and with which key.
  private func signature(of selection: MiniSelection) -> String {
    guard let trust = selection.setting.trust else {
      return "not checked (no key set: DSTACK_MINI_KEY or a key line in \(MiniSetting.pinFileName))"
    }
    guard let key = selection.signedBy else {
      return "no: the built-in scripts are not signed (DSTACK_ALLOW_BUILTIN=1 allows them)"
    }
    return "verified with key \(key.shortFingerprint) (\(key.path), from \(trust.origin))"
  }
}
