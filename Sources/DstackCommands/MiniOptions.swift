import ArgumentParser
import DstackCore
import Foundation

/// How to choose the mini image whose scripts run.
struct MiniOptions: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "The mini image: REPO, REPO:TAG or REPO@sha256:… (default: $DSTACK_MINI, a .dstack-mini pin file, or \(MiniSetting.defaultRepository)).",
      valueName: "image"))
  var mini: String?

  @Flag(help: "Ask no registry: use the local engine and the cache ($DSTACK_OFFLINE=1).")
  var offline = false

  @Flag(help: "Look tags up now (the mini's and images'), not the look-ups remembered for 10 minutes.")
  var refresh = false

  var isOffline: Bool { offline || ProcessInfo.processInfo.environment["DSTACK_OFFLINE"] == "1" }

  /// The mini to use, looked up (or remembered) as the options say.
  func selection(services: HostServices) throws -> MiniSelection {
    let setting: MiniSetting
    do {
      setting = try MiniSetting.resolve(flag: mini)
    } catch {
      throw CommandFailure(message: error.description)
    }
    let resolver = MiniResolver(
      docker: services.docker, registry: services.registry, cache: services.cache, logger: services.logger,
      offline: isOffline, refresh: refresh)
    return resolver.select(setting)
  }
}
