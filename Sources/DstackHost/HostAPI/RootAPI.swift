import DstackLua

/// `dstack.*` itself: the API level, the host version and the running script.
enum RootAPI {
  static func namespace(_ context: HostContext) -> APINamespace {
    APINamespace(
      name: "",
      summary: "The host and the running script.",
      members: [
        .value("api", .integer(Int64(HostAPI.level)), "The host API level (integer)."),
        .value("host_version", .text(HostAPI.hostVersion), "The dstack host version (string)."),
        .value("args", .list(context.arguments), "The script's arguments (list of strings); also passed as `...`."),
        .value(
          "script", ["name": .text(context.scriptName), "origin": .text(context.scriptOrigin)],
          "The running script: `{name, origin}` (origin says where the scripts came from)."),
        .function(
          "require_api(level)",
          "Raises a clear error unless the host offers API `level` or newer; call it first."
        ) { arguments in
          let needed = try arguments.integer(1)
          guard needed <= HostAPI.level else {
            throw HostAbort(
              "\(context.scriptName).lua needs dstack API level \(needed), but this dstack \(HostAPI.hostVersion) offers level \(HostAPI.level); upgrade dstack"
            )
          }
          return []
        },
        .function(
          "is_dry_run() -> boolean",
          "True when docker commands that change state are printed instead of run."
        ) { _ in [.boolean(context.dryRun.isOn)] },
        .function(
          "is_offline() -> boolean",
          "True when dstack asks no registry (`--offline` or `DSTACK_OFFLINE=1`); `dstack.registry` members then return nil and a message."
        ) { _ in [.boolean(context.services.policy.offline)] },
        .function(
          "enable_dry_run()",
          "From now on, print docker commands that change state instead of running them (cannot be undone)."
        ) { _ in
          context.dryRun.enable()
          return []
        },
      ])
  }
}
