import Foundation

/// Finds the newest version of an image among the local engine's tags and the
/// registry's (what the shell stack's `find-image` did, with real version ordering).
///
/// Registry tag lists are remembered in the cache for `MiniCache.lookupLifetime`, so
/// running an image again soon asks no registry; `refresh` asks anyway.
public struct ImageFinder {
  let docker: Docker
  let registry: RegistryClient
  /// When true, only the local engine is asked.
  let offline: Bool
  let cache: MiniCache?
  let refresh: Bool

  public init(docker: Docker, registry: RegistryClient, offline: Bool, cache: MiniCache? = nil, refresh: Bool = false) {
    self.docker = docker
    self.registry = registry
    self.offline = offline
    self.cache = cache
    self.refresh = refresh
  }

  /// The newest version of `reference.repository` as `repo:TAG`; a reference with a tag
  /// or digest is returned as it is when the image exists locally or in the registry.
  /// - Throws: `ImageFinderError` naming where it looked.
  public func newest(_ reference: ImageReference) throws -> ImageReference {
    let local = try docker.latestLocal(reference)
    if reference.isPinned {
      if local != nil || offline { return try local ?? notFound(reference, registryProblem: nil) }
      do {
        _ = try registry.manifest(
          of: RegistryRepository(reference.repository), reference: reference.digest ?? reference.tag ?? "latest")
        return reference
      } catch .notFound {
        return try notFound(reference, registryProblem: nil)
      } catch {
        return try notFound(reference, registryProblem: error.description)
      }
    }
    var versions = local.flatMap(\.tag).flatMap(ImageVersion.init).map { [$0] } ?? []
    var registryProblem: String?
    if !offline {
      let list = registryTags(reference.repository)
      versions += list.tags.compactMap(ImageVersion.init)
      registryProblem = list.problem
    }
    guard let newest = versions.max() else { return try notFound(reference, registryProblem: registryProblem) }
    return ImageReference(repository: reference.repository, tag: newest.text)
  }

  /// The registry's tags for `repository`, remembered for a while; a repository the
  /// registry does not have simply has no tags.
  private func registryTags(_ repository: String) -> MiniCache.TagList {
    if !refresh, let remembered = cache?.tagList(for: repository) { return remembered }
    let list: MiniCache.TagList
    do {
      list = .init(
        repository: repository, fetchedAt: Date(), tags: try registry.tags(of: RegistryRepository(repository)).tags,
        problem: nil)
    } catch .notFound {
      list = .init(repository: repository, fetchedAt: Date(), tags: [], problem: nil)
    } catch {
      list = .init(repository: repository, fetchedAt: Date(), tags: [], problem: error.description)
    }
    cache?.save(list)
    return list
  }

  private func notFound(_ reference: ImageReference, registryProblem: String?) throws -> ImageReference {
    throw ImageFinderError(reference: reference, offline: offline, registryProblem: registryProblem)
  }
}

/// No image matched; says where dstack looked.
public struct ImageFinderError: Error, CustomStringConvertible {
  public let reference: ImageReference
  public let offline: Bool
  /// Why the registry could not answer, when it could not.
  public let registryProblem: String?

  public var description: String {
    let what =
      reference.isPinned
      ? "image \(reference)" : "no version of \(reference.repository) (tags YY.MM.DD or YYYYMMDD-HHMMSS)"
    let registry = RegistryRepository(reference.repository).registry
    let looked =
      offline
      ? "in the local engine (offline)"
      : "in the local engine or on \(registry)"
        + (registryProblem.map { " (\($0))" } ?? "")
    return reference.isPinned ? "\(what) not found \(looked)" : "\(what) found \(looked)"
  }
}
