import FoundationEssentials
import Logging

/// Candidates: the version tags of the mini repository, in the local engine and the registry.
extension MiniResolver {
  /// The most tags tried, newest first, before giving up on a repository.
  static let candidateLimit = 20

  // MARK: - Candidates

  /// A tag (or digest) that may hold the mini, and where it was seen.
  struct Candidate {
    let repository: String
    let tag: String?
    let digest: Digest?
    let origin: MiniSelection.Origin
    /// The local image ID, for candidates in the local engine.
    let localImageID: Digest?

    var name: String { tag ?? digest?.description ?? repository }
    /// The reference to ask the registry for.
    var registryReference: String { digest?.description ?? tag ?? "latest" }

    /// The same tag or digest, read from the registry instead of the local engine.
    var fromRegistry: Candidate {
      Candidate(repository: repository, tag: tag, digest: digest, origin: .registry, localImageID: nil)
    }
  }

  /// Candidates newest first: the local engine's version tags and the registry's.
  func candidates(_ setting: MiniSetting, problems: inout [String]) -> [Candidate] {
    let reference = setting.reference
    let repository = reference.repository
    if let digest = reference.digest.flatMap(Digest.init) {
      let localID = localImageID(reference.description)
      if localID == nil && offline { return [] }
      return [
        Candidate(
          repository: repository, tag: reference.tag, digest: digest, origin: localID == nil ? .registry : .localEngine,
          localImageID: localID)
      ]
    }
    let local = localTags(repository, problems: &problems)
    var remoteTags: [String] = []
    if !offline, reference.tag == nil {
      do {
        remoteTags = try registry.tags(of: RegistryRepository(repository), pageSize: RegistryClient.pageSize).tags
      } catch {
        problems.append(error.description)
      }
    }
    let tags =
      reference.tag.map { [$0] }
      ?? Set(local.keys).union(remoteTags).compactMap(ImageVersion.init).sorted(by: >).map(\.text)
    return tags.compactMap { tag in
      if let imageID = local[tag] {
        return Candidate(repository: repository, tag: tag, digest: nil, origin: .localEngine, localImageID: imageID)
      }
      return offline
        ? nil : Candidate(repository: repository, tag: tag, digest: nil, origin: .registry, localImageID: nil)
    }
  }

  /// The local engine's tags of `repository` and their image IDs.
  func localTags(_ repository: String, problems: inout [String]) -> [String: Digest] {
    do {
      return Dictionary(try docker.localTags(repository).map { ($0.tag, $0.imageID) }) { first, _ in first }
    } catch {
      problems.append("the local engine: \(error)")
      return [:]
    }
  }

  func localImageID(_ reference: String) -> Digest? {
    (try? docker.inspectImage(reference))?["Id"].string.flatMap(Digest.init)
  }

  /// The registry manifest digest of a local candidate that was pushed to (or pulled
  /// from) its repository, from the engine's `RepoDigests`; nil otherwise.
  func pushedDigest(of candidate: Candidate) -> Digest? {
    repoDigests(of: candidate).first
  }

  /// The manifest digests the local engine knows for a local candidate in its repository
  /// (`RepoDigests`: what it was pushed as or pulled by).
  func repoDigests(of candidate: Candidate) -> [Digest] {
    if let digest = candidate.digest { return [digest] }
    guard candidate.origin == .localEngine, let tag = candidate.tag,
      case .array(let digests) = (try? docker.inspectImage("\(candidate.repository):\(tag)"))?["RepoDigests"]
    else { return [] }
    return digests.compactMap(\.string).map { ImageReference(parsing: $0) }
      .filter { $0.repository == candidate.repository }.compactMap { $0.digest.flatMap(Digest.init) }
  }
}
