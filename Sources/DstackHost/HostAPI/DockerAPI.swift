import DstackEngine
import DstackLua

/// `dstack.docker`: any docker command, with dry-run, and the engine queries on the hot path.
enum DockerAPI {
  static func namespace(_ context: HostContext) -> APINamespace {
    let docker = context.docker
    return APINamespace(
      name: "docker",
      summary: """
        The `docker` CLI, started with argument lists (never a shell), so `DOCKER_HOST`, \
        contexts, credential helpers and BuildKit work as for the user's own docker. \
        `change` runs any command that changes state and prints it, shell-quoted, instead \
        in dry-run mode; `query` and the other members only read, and always run. \
        `lib/docker.lua` in the mini builds `build`, `run`, `push`, `newest`, … on these.
        """,
      members: [
        .function(
          "change(args, options) -> {code, stdout, stderr} | integer",
          "Runs `docker ARGS...`, a command that changes state (`{\"stop\", id}`, `{\"network\", \"create\", name}`, `{\"cp\", src, dst}`). In dry-run mode prints it and runs nothing (code 0, empty output). By default captures its output and returns `{code, stdout, stderr}`; a non-zero code is a result, not an error. Options: `terminal = true` shares stdin, stdout and stderr, forwards Ctrl-C and termination signals, and returns the exit status (`{\"exec\", \"-it\", id, \"bash\"}`, `{\"run\", …}`); `progress = true` shows docker's output live on standard error instead of capturing it (build, push, pull); `stdin` (a string; level 2) is the command's standard input, which `--dry-run` never shows: secrets for `{\"start\", \"--attach\", \"--interactive\", id}`, not with `terminal`; `context` (a docker context name; level 2) sends the command to that context's engine (`docker --context NAME ARGS...`), such as a cluster's manager; `uninterruptible = true` (level 3) makes the command one step that a stop signal does not cut short, for what must not be left half done (an upload): it runs in a process group of its own, gets no signal from dstack or a terminal's Ctrl-C, and returns its result, and the signal takes effect at the script's next step; not with `terminal`; `timeout` (seconds, at most 86400; level 3): past it the docker CLI gets SIGTERM, then SIGKILL a second later, and the call returns nil and a message saying so (what the command started, a container, may still run: remove it). Otherwise a stop signal (Ctrl-C, SIGTERM, SIGHUP) is passed on to the command and raises an error once it ends; after one, only commands that stop or remove (`rm`, `rmi`, `stop`, `kill`) start, so the script's clean-up runs, and dstack then ends by that signal."
        ) { arguments in
          let words = try commandWords(arguments)
          let options = try arguments.options(
            2, allowed: ["terminal", "progress", "stdin", "context", "uninterruptible", "timeout"])
          let argv = try inContext(words, try options.string("context"), arguments)
          let terminal = try options.bool("terminal") == true
          let progress = try options.bool("progress") == true
          let whole = try options.bool("uninterruptible") == true
          let timeout = try options.seconds("timeout", limit: 86400)
          let input = try options.bytes("stdin").map { InputMode.bytes($0) } ?? .null
          if terminal && progress { throw arguments.bad(2, "choose one of 'terminal' and 'progress'") }
          if terminal && input != .null { throw arguments.bad(2, "'stdin' cannot be given with 'terminal'") }
          if terminal && whole { throw arguments.bad(2, "'uninterruptible' cannot be given with 'terminal'") }
          try Interruption.refuseToStart(words, docker: true)
          let result: ProcessResult?
          do {
            result = try abortOnEnvironmentProblem {
              if terminal {
                return try docker.change(argv, stdin: .inherit, stdout: .inherit, stderr: .inherit, timeout: timeout)
              }
              let output: OutputMode = progress ? .standardError : .capture
              let errors: OutputMode = progress ? .inherit : .capture
              return try docker.change(
                argv, stdin: input, stdout: output, stderr: errors, uninterruptible: whole, timeout: timeout)
            }
          } catch let error as DockerError {
            guard case .timedOut = error else { throw error }
            try Interruption.checkAfter(words, docker: true)
            return failure(error.description)
          }
          if !whole { try Interruption.checkAfter(words, docker: true) }
          if terminal { return [.integer(Int64(result?.status ?? 0))] }
          return [outcome(result)]
        },
        .function(
          "query(args, options) -> string | list | integer | nil, message",
          "Runs `docker ARGS...`, a command that only reads (`{\"ps\", …}`, `{\"logs\", id}`, `{\"network\", \"ls\"}`); it runs in dry-run mode too, so never pass a command that changes state. Returns its standard output, or nil and docker's message when it fails. Options: `json = true` decodes the output of `--format '{{json .}}'`: a list with one value per line (an empty list for no output); `terminal = true` shows the output live instead (`{\"logs\", \"--follow\", id}`), forwards Ctrl-C, and returns the exit status; `context` (level 2), as for `change`."
        ) { arguments in
          let words = try commandWords(arguments)
          let options = try arguments.options(2, allowed: ["json", "terminal", "context"])
          let argv = try inContext(words, try options.string("context"), arguments)
          let json = try options.bool("json") == true
          if try options.bool("terminal") == true {
            if json { throw arguments.bad(2, "choose one of 'json' and 'terminal'") }
            try Interruption.refuseToStart(words, docker: true)
            let status = try query { [.integer(Int64(try docker.stream(argv).status))] }
            try Interruption.checkAfter(words, docker: true)
            return status
          }
          return try query {
            if json { return [.table(LuaTable(array: try docker.queryJSONLines(argv).map(LuaValue.init(json:))))] }
            return [.string(try docker.query(argv).stdout)]
          }
        },
        .function(
          "local_tags(repo) -> list | nil, message",
          "The tags of repository `repo` (`team/app`, no tag) in the local engine: `{tag, id}` each, `id` being the image ID. Fast: asks the engine's socket directly when the docker CLI would use it."
        ) { arguments in
          let repository = try arguments.string(1)
          guard ImageReference(parsing: repository).isPinned == false else {
            throw arguments.bad(1, "'\(repository)' has a tag or digest; pass the repository alone")
          }
          return try query {
            let tags: [LuaValue] = try docker.localTags(repository).map { entry in
              ["tag": .text(entry.tag), "id": .text(entry.imageID.description)]
            }
            return [.table(LuaTable(array: tags))]
          }
        },
        .function(
          "inspect_image(ref) -> table | nil, message",
          "`docker image inspect` of one local image as a table (`Id`, `Config.Labels`, `Config.User`, `RepoDigests`, …), or nil and a message when the engine has no such image. Fast, like `local_tags`."
        ) { arguments in
          let reference = try arguments.string(1)
          return try query {
            guard let image = try docker.inspectImage(reference) else { return failure("no such image: \(reference)") }
            return [LuaValue(json: image)]
          }
        },
        .function(
          "containers(filters) -> list | nil, message",
          "The containers of the engine, in every state, that match every one of `filters` (docker ps's: `{label = \"io.dstack.user=ann\", status = \"running\"}`; nil for all): `{id, names, image, state, status, labels}` each (`names` joined with commas, `state` such as `running`, `labels` a map). Fast, like `local_tags`, and never remembered.",
          since: 3
        ) { arguments in
          var filters: [(name: String, value: String)] = []
          for (name, value) in (try arguments.optionalTable(1)?.fields ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0 == "-") }),
              let text = value.textValue, !text.contains("\0")
            else {
              throw arguments.bad(1, "filters are docker ps's names with a string each, as in {label = \"key=value\"}")
            }
            filters.append((name, text))
          }
          return try query {
            let rows: [LuaValue] = try docker.containers(filters: filters).map { row in
              [
                "id": .text(row.id), "names": .text(row.names), "image": .text(row.image), "state": .text(row.state),
                "status": .text(row.status),
                "labels": .table(LuaTable(fields: row.labels.mapValues { LuaValue.text($0) })),
              ]
            }
            return [.table(LuaTable(array: rows))]
          }
        },
        .function(
          "parse_reference(ref) -> {repository, registry, path, tag, digest} | nil, message",
          "Splits an image reference as docker does: `repository` is everything before the tag or digest, as written (`127.0.0.1:5000/team/app`); `registry` the registry host (`docker.io` when none is written); `path` the repository on that registry (`library/busybox` for `busybox`); `tag` and `digest` when present. Returns nil and a message naming the problem when `ref` is not a valid reference."
        ) { arguments in
          let text = try arguments.string(1)
          do {
            let reference = try ImageReference.validated(text)
            let location = reference.location
            return [
              [
                "repository": .text(reference.repository), "registry": .text(location.registry),
                "path": .text(location.path), "tag": reference.tag.map(LuaValue.text) ?? .nil,
                "digest": reference.digest.map(LuaValue.text) ?? .nil,
              ]
            ]
          } catch {
            return failure("\(error)")
          }
        },
      ])
  }

  /// The docker arguments at position 1: a non-empty list whose first word is a docker
  /// command (`stop`, `network`, …), not an option.
  private static func commandWords(_ arguments: HostFunction.Arguments) throws -> [String] {
    let argv = try arguments.stringList(1)
    guard let command = argv.first else {
      throw arguments.bad(1, "the docker arguments are empty; name a command, as in {\"ps\"}")
    }
    let isCommandWord =
      !command.isEmpty && command.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }
      && command.first?.isLetter == true
    guard isCommandWord else {
      throw arguments.bad(1, "'\(command)' is not a docker command; the list starts with one, as in {\"stop\", id}")
    }
    if let index = argv.firstIndex(where: { $0.utf8.count >= argumentLimit }) {
      throw arguments.bad(
        1,
        "word \(index + 1) is \(argv[index].utf8.count) bytes, and the system passes at most \(argumentLimit - 1) in one argument; pass large data in a file (dstack.fs.write) or another way"
      )
    }
    return argv
  }

  /// The most bytes, with its terminating zero, that one argument of a program may hold
  /// (Linux's MAX_ARG_STRLEN, 32 pages); longer ones make starting the program fail.
  private static let argumentLimit = 32 * 4096

  /// `words` for the engine of docker context `context` (`--context NAME` first), or as
  /// they are when no context is named.
  private static func inContext(_ words: [String], _ context: String?, _ arguments: HostFunction.Arguments) throws
    -> [String]
  {
    guard let context else { return words }
    guard !context.isEmpty, !context.hasPrefix("-"), !context.contains(where: { $0.isWhitespace || $0 == "/" })
    else {
      throw arguments.bad(2, "option 'context' must name a docker context (`docker context ls`), got '\(context)'")
    }
    return ["--context", context] + words
  }

  /// `{code, stdout, stderr}` of a captured command (zeros and empty strings in dry-run).
  private static func outcome(_ result: ProcessResult?) -> LuaValue {
    [
      "code": .integer(Int64(result?.status ?? 0)), "stdout": .string(result?.stdout ?? []),
      "stderr": .string(result?.stderr ?? []),
    ]
  }

  /// Runs a query: environment problems stop the script, other failures return `nil, message`.
  private static func query(_ body: () throws -> [LuaValue]) throws -> [LuaValue] {
    do {
      return try body()
    } catch let error as DockerError where !error.isEnvironmentProblem {
      return failure("\(error)")
    } catch let error as DockerError {
      throw HostAbort(error.description)
    }
  }

  private static func abortOnEnvironmentProblem<T>(_ body: () throws -> T) throws -> T {
    do {
      return try body()
    } catch let error as DockerError where error.isEnvironmentProblem {
      throw HostAbort(error.description)
    }
  }
}
