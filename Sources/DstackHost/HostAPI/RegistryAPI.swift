import DstackEngine
import DstackLua

/// `dstack.registry`: reads from image registries.
enum RegistryAPI {
  static func namespace(_ context: HostContext) -> APINamespace {
    let lookups = context.services.registryLookups
    return APINamespace(
      name: "registry",
      summary: """
        Reads from image registries (the Registry HTTP API v2), with the user's docker \
        credentials (`docker login`, credential helpers) and token or Basic auth. When \
        dstack is offline (`--offline`, `DSTACK_OFFLINE=1`) nothing is asked and every \
        member returns nil and a message saying so.
        """,
      members: [
        .function(
          "tags(repo) -> list | nil, message",
          "Every tag of repository `repo` (all pages), in the registry's order; an empty list when the registry has no such repository. Tag lists are remembered for 10 minutes (`--refresh` asks again); so is a registry's failure, so an unreachable registry costs one wait."
        ) { arguments in
          let repository = try repositoryArgument(arguments)
          do {
            return [.list(try lookups.tags(of: repository))]
          } catch {
            return failure("\(error)")
          }
        },
        .function(
          "manifest(ref) -> {digest, config, labels, created, os, architecture} | nil, message",
          "The manifest of image `ref` (a tag, a digest, or `latest` when it has neither) for this machine's platform: `digest` of the manifest, `config` (the image ID), the image's `labels` (a map), `created` (RFC 3339), `os` and `architecture`. Nil and a message when it does not exist or the registry fails, and (level 2) a third value that scripts can branch on, unlike the message: `not_found` when the registry has no such image, else `failed`."
        ) { arguments in
          let reference = try referenceArgument(arguments)
          do {
            let (manifest, configuration) = try lookups.manifest(of: reference)
            return [
              [
                "digest": .text(manifest.digest.description), "config": .text(manifest.config.digest.description),
                "labels": .table(LuaTable(fields: configuration.labels.mapValues(LuaValue.text))),
                "created": configuration.created.map(LuaValue.text) ?? .nil,
                "os": configuration.os.map(LuaValue.text) ?? .nil,
                "architecture": configuration.architecture.map(LuaValue.text) ?? .nil,
              ]
            ]
          } catch RegistryError.notFound(let what) {
            return failure("\(RegistryError.notFound(what: what))") + [.text("not_found")]
          } catch {
            return failure("\(error)") + [.text("failed")]
          }
        },
      ])
  }

  /// The image reference at position 1, checked against Docker's grammar.
  private static func referenceArgument(_ arguments: HostFunction.Arguments) throws -> ImageReference {
    do {
      return try ImageReference.validated(try arguments.string(1))
    } catch let error as ReferenceError {
      throw arguments.bad(1, error.description)
    }
  }

  /// A repository without tag or digest, checked as a reference.
  private static func repositoryArgument(_ arguments: HostFunction.Arguments) throws -> String {
    let reference = try referenceArgument(arguments)
    guard !reference.isPinned else {
      throw arguments.bad(1, "'\(reference)' has a tag or digest; pass the repository alone")
    }
    return reference.repository
  }
}
