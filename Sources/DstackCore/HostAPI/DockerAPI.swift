import Foundation

/// `dstack.docker`: the docker CLI, with argv arrays and dry-run support.
enum DockerAPI {
  static func namespace(_ context: HostContext) -> APINamespace {
    let docker = context.docker
    return APINamespace(
      name: "docker",
      summary: """
        The `docker` CLI, started with argument lists (never a shell), so `DOCKER_HOST`, \
        contexts, credential helpers and BuildKit work as for the user's own docker. \
        Commands that change state (build, run, push, pull, tag, rmi) are printed, \
        shell-quoted, instead of run in dry-run mode; queries always run. Progress goes \
        to standard error.
        """,
      members: [
        .function(
          "build(options) -> true | nil, message",
          "Builds an image. Options: `context` (folder, required), `file`, `tags` (list), `build_args` and `labels` (maps), `target`, `platform`, `no_cache` (boolean), `args` (list of further `docker build` arguments)."
        ) { arguments in
          let options = try arguments.options(
            1, allowed: ["context", "file", "tags", "build_args", "labels", "target", "platform", "no_cache", "args"])
          guard let buildContext = try options.string("context") else {
            throw arguments.bad(1, "option 'context' is required")
          }
          var argv = ["build"]
          if let file = try options.string("file") { argv += ["--file", file] }
          for tag in try options.strings("tags") ?? [] { argv += ["--tag", tag] }
          for (key, value) in try options.stringMap("build_args") ?? [] { argv += ["--build-arg", "\(key)=\(value)"] }
          for (key, value) in try options.stringMap("labels") ?? [] { argv += ["--label", "\(key)=\(value)"] }
          if let target = try options.string("target") { argv += ["--target", target] }
          if let platform = try options.string("platform") { argv += ["--platform", platform] }
          if try options.bool("no_cache") == true { argv.append("--no-cache") }
          argv += try options.strings("args") ?? []
          argv.append(buildContext)
          return try change(docker, argv)
        },
        .function(
          "run(options) -> integer",
          "Runs a container with the terminal shared and returns its exit status (128 + signal when killed; 0 in dry-run). Options: `image` (required), `command` (list), `options` (list of `docker run` options, placed before the image)."
        ) { arguments in
          let options = try arguments.options(1, allowed: ["image", "command", "options"])
          guard let image = try options.string("image") else {
            throw arguments.bad(1, "option 'image' is required")
          }
          let argv = ["run"] + (try options.strings("options") ?? []) + [image] + (try options.strings("command") ?? [])
          let result = try abortOnEnvironmentProblem {
            try docker.change(argv, stdin: .inherit, stdout: .inherit, stderr: .inherit, daemonFailureStatus: 125)
          }
          return [.integer(Int64(result?.status ?? 0))]
        },
        .function(
          "push(ref) -> true, digest | nil, message",
          "Pushes an image and returns its registry digest (`sha256:…`; nil in dry-run)."
        ) { arguments in
          let reference = try arguments.string(1)
          let pushed = try change(docker, ["push", reference])
          guard pushed.first == .boolean(true), !docker.isDryRun else { return pushed }
          return [.boolean(true), pushedDigest(docker, reference).map(LuaValue.text) ?? .nil]
        },
        .function("pull(ref) -> true | nil, message", "Pulls an image.") { arguments in
          try change(docker, ["pull", try arguments.string(1)])
        },
        .function("tag(source, target) -> true | nil, message", "Adds the tag `target` to the image `source`.") {
          arguments in
          try change(docker, ["tag", try arguments.string(1), try arguments.string(2)])
        },
        .function(
          "rmi(ref, options) -> true | nil, message",
          "Removes an image (a tag). Options: `force` (boolean)."
        ) { arguments in
          let reference = try arguments.string(1)
          let options = try arguments.options(2, allowed: ["force"])
          return try change(docker, ["rmi"] + (try options.bool("force") == true ? ["--force"] : []) + [reference])
        },
        .function(
          "images(repo) -> list | nil, message",
          "Local images of repository `repo` (all images when nil): `{repository, tag, id, created, size}` each; untagged images are left out."
        ) { arguments in
          let repository = try arguments.optionalString(1)
          return try query {
            let rows = try docker.queryJSONLines(
              ["image", "ls", "--format", "{{json .}}"] + (repository.map { [$0] } ?? []))
            let images: [LuaValue] = rows.compactMap { row in
              guard case .table(let image) = row, image["Tag"].textValue != "<none>" else { return nil }
              return [
                "repository": image["Repository"], "tag": image["Tag"], "id": image["ID"],
                "created": image["CreatedAt"], "size": image["Size"],
              ]
            }
            return [.table(LuaTable(array: images))]
          }
        },
        .function(
          "inspect(ref) -> table | nil, message",
          "`docker image inspect` of one image as a table (`Config.Labels`, `RepoDigests`, `Id`, …), or nil and a message when there is no such image."
        ) { arguments in
          let reference = try arguments.string(1)
          return try query {
            guard let image = try docker.inspectImage(reference) else { return failure("no such image: \(reference)") }
            return [image]
          }
        },
        .function(
          "info() -> table | nil, message",
          "`docker info` as a table (`Runtimes`, `ServerVersion`, `OSType`, …)."
        ) { _ in
          try query { [try docker.queryJSONLines(["info", "--format", "{{json .}}"]).first ?? .nil] }
        },
        .function(
          "containers(options) -> list | nil, message",
          "Containers, running or not: `{id, image, names, state, status}` each. Options: `filters` (map, as `docker ps --filter KEY=VALUE`), `running_only` (boolean)."
        ) { arguments in
          let options = try arguments.options(1, allowed: ["filters", "running_only"])
          var argv = ["ps", "--no-trunc", "--format", "{{json .}}"]
          if try options.bool("running_only") != true { argv.append("--all") }
          for (key, value) in try options.stringMap("filters") ?? [] { argv += ["--filter", "\(key)=\(value)"] }
          return try query {
            let rows = try docker.queryJSONLines(argv)
            let containers: [LuaValue] = rows.compactMap { row in
              guard case .table(let container) = row else { return nil }
              return [
                "id": container["ID"], "image": container["Image"], "names": container["Names"],
                "state": container["State"], "status": container["Status"],
              ]
            }
            return [.table(LuaTable(array: containers))]
          }
        },
        .function(
          "latest(repo) -> ref, tag | nil, message",
          "The newest version of `repo` in the local engine and its registry (not when offline), as `repo:TAG` and the tag; tags that are not versions are ignored. A `repo` with a tag or digest is returned as it is when the image exists."
        ) { arguments in
          let reference = ImageReference(parsing: try arguments.string(1))
          do {
            let found = try context.services.imageFinder.newest(reference)
            return [.text(found.description), found.tag.map(LuaValue.text) ?? .nil]
          } catch let error as ImageFinderError {
            return failure(error.description)
          } catch let error as DockerError {
            throw error.isEnvironmentProblem ? HostAbort(error.description) : error
          }
        },
      ])
  }

  /// Runs a state-changing docker command: `true`, or `nil, message` when it fails.
  private static func change(_ docker: Docker, _ argv: [String]) throws -> [LuaValue] {
    let result = try abortOnEnvironmentProblem { try docker.change(argv) }
    guard let result, !result.succeeded else { return [.boolean(true)] }
    return failure("docker \(argv[0]) failed (exit \(result.status)); its output is above")
  }

  /// Runs a query: environment problems stop the script, other failures return `nil, message`.
  private static func query(_ body: () throws -> [LuaValue]) throws -> [LuaValue] {
    do {
      return try body()
    } catch let error as DockerError where !error.isEnvironmentProblem {
      return failure(error.description)
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

  /// The digest the registry gave `reference` after a push, from the image's RepoDigests.
  private static func pushedDigest(_ docker: Docker, _ reference: String) -> String? {
    let repository = ImageReference(parsing: reference).repository
    guard
      let result = try? docker.query(["image", "inspect", "--format", "{{json .RepoDigests}}", reference]),
      let digests = try? JSONDecoder().decode([String].self, from: Data(result.stdout))
    else { return nil }
    return digests.lazy.map { ImageReference(parsing: $0) }.first { $0.repository == repository }?.digest
  }
}
