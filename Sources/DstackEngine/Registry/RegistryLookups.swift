import FoundationEssentials

/// Registry reads with the look-up policy applied, for scripts and commands alike:
/// nothing is asked when offline, and tag lists are remembered for
/// `LookupPolicy.lifetime` under `<cache>/tags/` (`refresh` asks again). A registry
/// that failed is remembered briefly (`LookupPolicy.failureLifetime`), so an unreachable
/// registry costs one wait.
package struct RegistryLookups: Sendable {
  let client: RegistryClient
  let policy: LookupPolicy
  private let folder: String

  package init(client: RegistryClient, policy: LookupPolicy, cacheDirectory: String) {
    self.client = client
    self.policy = policy
    self.folder = cacheDirectory + "/tags"
  }

  /// Why a registry read gave no answer.
  package enum Failure: Error, CustomStringConvertible {
    case offline(repository: String)
    case registry(RegistryError)

    package var description: String {
      switch self {
      case .offline(let repository):
        "registry not asked for \(repository): dstack is offline (--offline or DSTACK_OFFLINE)"
      case .registry(let error): error.description
      }
    }
  }

  /// All tags of `repository` (every page); a repository the registry does not have has none.
  package func tags(of repository: String) throws(Failure) -> [String] {
    guard !policy.offline else { throw .offline(repository: repository) }
    if !policy.refresh, let remembered = remembered(repository) {
      if let problem = remembered.problem { throw .registry(.remembered(problem)) }
      return remembered.tags
    }
    let list: TagList
    do {
      list = TagList(
        repository: repository, fetchedAt: Date(), tags: try client.tags(of: RegistryRepository(repository)).tags,
        problem: nil)
    } catch .notFound {
      list = TagList(repository: repository, fetchedAt: Date(), tags: [], problem: nil)
    } catch {
      remember(TagList(repository: repository, fetchedAt: Date(), tags: [], problem: error.description))
      throw .registry(error)
    }
    remember(list)
    return list.tags
  }

  /// The manifest of `reference` (tag or digest; `latest` when it has neither) for this
  /// machine's platform, with what its configuration says.
  package func manifest(of reference: ImageReference) throws(Failure) -> (ImageManifest, ImageConfiguration) {
    guard !policy.offline else { throw .offline(repository: reference.repository) }
    do {
      let location = RegistryRepository(reference.repository)
      let manifest = try client.manifest(of: location, reference: reference.digest ?? reference.tag ?? "latest")
      return (manifest, try client.configuration(of: location, config: manifest.config.digest))
    } catch {
      throw .registry(error)
    }
  }

  /// A tag list as remembered on disk.
  private struct TagList: Codable {
    let repository: String
    let fetchedAt: Date
    let tags: [String]
    /// Set when the registry failed.
    let problem: String?
  }

  private func path(_ repository: String) -> String {
    folder + "/" + Digest(of: Array(repository.utf8)).short + ".json"
  }

  private func remembered(_ repository: String) -> TagList? {
    guard
      let list = FileManager.default.contents(atPath: path(repository)).flatMap({
        try? MiniCache.decoder.decode(TagList.self, from: $0)
      }), list.repository == repository,
      LookupPolicy.isFresh(
        madeAt: list.fetchedAt,
        lifetime: list.problem == nil ? LookupPolicy.lifetime : LookupPolicy.failureLifetime)
    else { return nil }
    return list
  }

  private func remember(_ list: TagList) {
    try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    guard let data = try? MiniCache.encoder.encode(list) else { return }
    try? data.write(to: URL(fileURLWithPath: path(list.repository)), options: .atomic)
  }
}
