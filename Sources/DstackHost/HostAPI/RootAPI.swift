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
          "script_file(path) -> string | nil, message",
          "A file that ships with the running scripts, by its path in their folder (`lib/packages/build-dist.sh`): the shell and Python texts, Dockerfiles and data a script sends into containers or writes out. Nil and a message when there is none; a path that is absolute or holds `.` or `..` raises.",
          since: 4
        ) { arguments in
          let path = try arguments.string(1)
          let parts = path.split(separator: "/", omittingEmptySubsequences: false)
          guard !path.hasPrefix("/"), parts.allSatisfy({ !["", ".", ".."].contains($0) }) else {
            throw HostAbort(
              "dstack.script_file: \(path) is not a path inside the scripts' folder (relative, without . or ..)")
          }
          guard let bytes = context.scripts.file(path) else {
            return failure("no file \(path) in \(context.scriptOrigin)")
          }
          return [.string(bytes)]
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
