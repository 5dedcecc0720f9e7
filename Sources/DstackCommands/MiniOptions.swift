import ArgumentParser
import DstackEngine
import DstackHost

/// `--offline` and `--refresh`, shared by every command that looks tags up.
struct LookupOptions: ParsableArguments {
  @Flag(help: "Ask no registry: use the local engine and the cache ($DSTACK_OFFLINE=1).")
  var offline = false

  @Flag(help: "Look tags up now (the mini's and images'), not the look-ups remembered for 10 minutes.")
  var refresh = false

  func policy(_ environment: HostEnvironment) -> LookupPolicy {
    LookupPolicy(offline: offline || environment.asksOffline, refresh: refresh)
  }
}

/// How to choose the mini image whose scripts run.
struct MiniOptions: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "The mini image: REPO, REPO:TAG or REPO@sha256:… (default: $DSTACK_MINI, a .dstack-mini pin file, or $DSTACK_NAMESPACE/mini; with none, the built-in scripts).",
      valueName: "image"))
  var mini: String?

  /// The mini to use, looked up (or remembered) as the options say.
  func selection(services: HostServices) throws -> MiniSelection {
    let setting: MiniSetting
    do {
      setting = try MiniSetting.resolve(flag: mini, environment: services.environment)
    } catch {
      throw CommandFailure(message: error.description)
    }
    for warning in setting.warnings { services.logger.warning("\(warning)") }
    do {
      return try services.miniResolver.select(setting)
    } catch {
      throw CommandFailure(message: error.description)
    }
  }
}
