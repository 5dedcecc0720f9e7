import FoundationEssentials
import Logging

/// The mini image a run uses and where its scripts are.
public struct MiniSelection: Sendable {
  /// Where the scripts came from.
  public enum Origin: String, Sendable {
    case registry
    case localEngine = "local engine"
    case cache
    case builtin = "built-in"
  }

  public let setting: MiniSetting
  public let origin: Origin
  public let repository: String
  public let tag: String?
  /// The image ID (configuration digest); nil for the built-in scripts.
  public let imageID: Digest?
  /// The folder of the scripts; nil for the built-in scripts.
  public let scriptsDirectory: String?
  /// Newer tags passed over because this host cannot run them.
  public let skipped: [SkippedMini]
  /// When the tag look-up was made (earlier than now when a remembered one was used).
  public let resolvedAt: Date

  /// How the built-in scripts are named in messages.
  public static let builtinLabel = "built-in scripts (dstack \(DstackRelease.version))"

  /// `repo:tag (sha256:abcdef012345)`, or the built-in scripts.
  public var label: String {
    guard let imageID else { return Self.builtinLabel }
    return "\(repository)\(tag.map { ":\($0)" } ?? "") (\(imageID.description.prefix(19)))"
  }
}

/// Finds the newest mini this host can run and makes its scripts available locally.
///
/// Candidates are the version tags of the mini repository in the local engine and in
/// the registry. The newest one whose `io.dstack.api` label (absent means 1) is at most
/// the host's API level wins; newer ones are reported as skipped. Its scripts are taken out
/// without running anything (registry blobs, or `docker create` + `docker cp`) and cached
/// by content digest. A look-up is remembered for `LookupPolicy.lifetime`, so the warm
/// path asks no registry and starts no container. When the registry fails, the newest
/// cached mini is used; when there is nothing at all, the built-in scripts. Each
/// fallback is announced once on standard error.
public final class MiniResolver {
  private let docker: Docker
  private let registry: RegistryClient
  private let cache: MiniCache
  private let logger: Logger
  private let offline: Bool
  private let refresh: Bool
  private let hostAPILevel: Int

  /// - Parameter hostAPILevel: the highest `io.dstack.api` this host can run.
  public init(
    docker: Docker, registry: RegistryClient, cache: MiniCache, logger: Logger, policy: LookupPolicy,
    hostAPILevel: Int
  ) {
    self.docker = docker
    self.registry = registry
    self.cache = cache
    self.logger = logger
    self.offline = policy.offline
    self.refresh = policy.refresh
    self.hostAPILevel = hostAPILevel
  }

  /// The label every mini carries: the lowest host API level its scripts need.
  public static let apiLabel = "io.dstack.api"

  /// Selects the mini for `setting`; never fails (the built-in scripts are the last resort).
  public func select(_ setting: MiniSetting) -> MiniSelection {
    let key = setting.reference.description
    if !refresh, let remembered = rememberedSelection(setting, key: key) { return remembered }
    var problems: [String] = []
    var skipped: [SkippedMini] = []
    let repository = setting.reference.repository
    let candidates = candidates(setting, problems: &problems)
    for (index, candidate) in candidates.enumerated() {
      guard index < Self.candidateLimit else {
        problems.insert(
          "the newest \(Self.candidateLimit) version tags could not be read (\(problems.last ?? "")); "
            + "\(candidates.count - index) older ones were not tried", at: 0)
        break
      }
      do {
        guard let api = try apiLevel(of: candidate, skipped: &skipped) else { continue }
        let stored = try scripts(of: candidate, api: api)
        let selection = MiniSelection(
          setting: setting, origin: candidate.origin, repository: repository, tag: candidate.tag,
          imageID: stored.entry.imageID, scriptsDirectory: stored.scriptsDirectory, skipped: skipped, resolvedAt: Date()
        )
        announceSkipped(skipped, using: selection, previous: cache.resolution(for: key))
        remember(selection, key: key)
        return selection
      } catch {
        problems.append("\(candidate.tag ?? "") from the \(candidate.origin.rawValue): \(error)")
      }
    }
    return fallback(setting, key: key, problems: problems, skipped: skipped)
  }

  // MARK: - Remembered look-ups

  private func rememberedSelection(_ setting: MiniSetting, key: String) -> MiniSelection? {
    guard let resolution = cache.resolution(for: key),
      Date() < resolution.trustedUntil ?? resolution.resolvedAt + LookupPolicy.lifetime
    else { return nil }
    guard let imageID = resolution.imageID else {
      return MiniSelection(
        setting: setting, origin: .builtin, repository: resolution.repository, tag: nil, imageID: nil,
        scriptsDirectory: nil, skipped: resolution.skipped, resolvedAt: resolution.resolvedAt)
    }
    switch cache.entry(imageID: imageID) {
    case .found(let stored):
      return MiniSelection(
        setting: setting, origin: MiniSelection.Origin(rawValue: resolution.source) ?? .cache,
        repository: resolution.repository, tag: resolution.tag, imageID: imageID,
        scriptsDirectory: stored.scriptsDirectory, skipped: resolution.skipped, resolvedAt: resolution.resolvedAt)
    case .corrupted(let reason):
      logger.warning("the cached mini \(imageID.short) was damaged (\(reason)); fetching it again")
      return nil
    case .missing:
      return nil
    }
  }

  /// Remembers a look-up: a successful one for `LookupPolicy.lifetime`, a fallback after
  /// a failure only briefly, so a registry that was down for a moment is asked again soon.
  private func remember(_ selection: MiniSelection, key: String, failed: Bool = false) {
    cache.save(
      MiniCache.Resolution(
        setting: key, resolvedAt: selection.resolvedAt, repository: selection.repository, tag: selection.tag,
        imageID: selection.imageID, source: selection.origin.rawValue, skipped: selection.skipped,
        trustedUntil: selection.resolvedAt + (failed ? LookupPolicy.failureLifetime : LookupPolicy.lifetime)))
  }

  /// The most tags tried, newest first, before giving up on a repository.
  static let candidateLimit = 20

  // MARK: - Candidates

  /// A tag (or digest) that may hold the mini, and where it was seen.
  private struct Candidate {
    let repository: String
    let tag: String?
    let digest: Digest?
    let origin: MiniSelection.Origin
    /// The local image ID, for candidates in the local engine.
    let localImageID: Digest?

    var name: String { tag ?? digest?.description ?? repository }
    /// The reference to ask the registry for.
    var registryReference: String { digest?.description ?? tag ?? "latest" }
  }

  /// Candidates newest first: the local engine's version tags and the registry's.
  private func candidates(_ setting: MiniSetting, problems: inout [String]) -> [Candidate] {
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
        remoteTags = try registry.tags(of: RegistryRepository(repository)).tags
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
  private func localTags(_ repository: String, problems: inout [String]) -> [String: Digest] {
    do {
      return Dictionary(try docker.localTags(repository).map { ($0.tag, $0.imageID) }) { first, _ in first }
    } catch {
      problems.append("the local engine: \(error)")
      return [:]
    }
  }

  private func localImageID(_ reference: String) -> Digest? {
    (try? docker.inspectImage(reference))?["Id"].string.flatMap(Digest.init)
  }

  // MARK: - Labels and scripts

  /// Registry manifests read while checking labels, reused when extracting.
  private var manifests: [String: ImageManifest] = [:]

  /// The API level `candidate` needs, or nil (and an entry in `skipped`) when this host cannot run it.
  private func apiLevel(of candidate: Candidate, skipped: inout [SkippedMini]) throws -> Int? {
    let labels: [String: String]
    if let imageID = candidate.localImageID {
      guard let image = try docker.inspectImage(imageID.description) else {
        throw MiniError.disappeared(imageID: imageID)
      }
      labels = image["Config"]["Labels"].stringMembers
    } else {
      let manifest = try registryManifest(candidate)
      if case .found(let stored) = cache.entry(imageID: manifest.config.digest) { return stored.entry.api }
      labels = try registry.configuration(of: RegistryRepository(candidate.repository), config: manifest.config.digest)
        .labels
    }
    guard let text = labels[Self.apiLabel] else { return 1 }
    guard let api = Int(text.trimmed), api >= 1 else {
      skipped.append(
        SkippedMini(
          tag: candidate.name, api: nil, reason: "its \(Self.apiLabel) label '\(text)' is not a level (1, 2, …)"))
      return nil
    }
    guard api <= hostAPILevel else {
      skipped.append(SkippedMini(tag: candidate.name, api: api, reason: "it needs dstack API level \(api)"))
      return nil
    }
    return api
  }

  private func registryManifest(_ candidate: Candidate) throws -> ImageManifest {
    let key = candidate.repository + " " + candidate.registryReference
    if let known = manifests[key] { return known }
    let manifest = try registry.manifest(
      of: RegistryRepository(candidate.repository), reference: candidate.registryReference)
    manifests[key] = manifest
    return manifest
  }

  /// The cached scripts of `candidate`, taken out of the image first when needed.
  private func scripts(of candidate: Candidate, api: Int) throws -> MiniCache.StoredEntry {
    let imageID: Digest
    var manifest: ImageManifest?
    if let localID = candidate.localImageID {
      imageID = localID
    } else {
      manifest = try registryManifest(candidate)
      imageID = manifest?.config.digest ?? candidate.digest ?? Digest(of: [])
    }
    switch cache.entry(imageID: imageID) {
    case .found(let stored): return stored
    case .corrupted(let reason):
      logger.warning("the cached mini \(candidate.name) was damaged (\(reason)); fetching it again")
    case .missing: break
    }
    let files: [String: [UInt8]]
    if let manifest {
      files = try extractFromRegistry(candidate, manifest: manifest)
    } else {
      files = try extractFromEngine(imageID)
    }
    guard !files.isEmpty else { throw MiniError.noScripts(folder: "/" + Self.scriptsFolder) }
    return try cache.store(
      files: files, repository: candidate.repository, tag: candidate.tag, imageID: imageID,
      manifestDigest: manifest?.digest ?? candidate.digest, api: api)
  }

  /// Where a mini image keeps its scripts.
  public static let scriptsFolder = "dstack/scripts"

  /// Reads the scripts folder from the image's layers, newest layer first. Every layer
  /// must match its digest in the manifest (checked when fetched) and, uncompressed, its
  /// `rootfs.diff_ids` entry in the configuration, whose digest is the image ID the cache
  /// is keyed by: so what is cached under an image ID is that image's content, whatever
  /// registry served it.
  private func extractFromRegistry(_ candidate: Candidate, manifest: ImageManifest) throws -> [String: [UInt8]] {
    let repository = RegistryRepository(candidate.repository)
    let diffIDs = try registry.configuration(of: repository, config: manifest.config.digest).diffIDs
    guard diffIDs.count == manifest.layers.count else {
      throw MiniError.layersDoNotMatch(
        detail: "the manifest lists \(manifest.layers.count) layers, the configuration \(diffIDs.count)")
    }
    var folder = LayeredFolder(folder: Self.scriptsFolder)
    for (layer, diffID) in zip(manifest.layers, diffIDs).reversed() {
      if layer.mediaType?.contains("zstd") == true {
        throw MiniError.unsupportedLayer(digest: layer.digest, mediaType: layer.mediaType ?? "")
      }
      let blob = Array(try registry.blob(of: repository, digest: layer.digest))
      let archive = Gzip.isCompressed(blob) ? try Gzip.decompress(blob) : blob
      guard Digest(of: archive) == diffID else {
        throw MiniError.layersDoNotMatch(
          detail: "layer \(layer.digest.short) unpacks to \(Digest(of: archive).short), not \(diffID.short)")
      }
      try folder.addLayer(try Tar.entries(archive))
    }
    return folder.files
  }

  /// Copies the scripts folder out of a local image without running it:
  /// `docker create`, `docker cp … -` (a tar stream), `docker rm`.
  private func extractFromEngine(_ imageID: Digest) throws -> [String: [UInt8]] {
    let created = try docker.query(["create", "--label", "io.dstack.extract=1", imageID.description, "/dstack-extract"])
    let container = created.output
    defer { _ = try? docker.query(["rm", "--force", container]) }
    let archive = try docker.query(["cp", "\(container):/\(Self.scriptsFolder)", "-"])
    var folder = LayeredFolder(folder: "scripts")
    try folder.addLayer(try Tar.entries(archive.stdout))
    return folder.files
  }

  // MARK: - Fallbacks and notices

  /// The newest cached mini this host can run, else the built-in scripts; announced once.
  private func fallback(_ setting: MiniSetting, key: String, problems: [String], skipped: [SkippedMini])
    -> MiniSelection
  {
    let repository = setting.reference.repository
    var why = problems.first ?? "no version tag of \(repository) that this dstack can run"
    if let newest = skipped.first {
      why += "; \(newest.tag) was skipped: \(newest.reason), and this dstack offers level \(hostAPILevel)"
    }
    if let (entry, stored) = lastUsable(setting, key: key) {
      let selection = MiniSelection(
        setting: setting, origin: .cache, repository: repository, tag: entry.tag, imageID: entry.imageID,
        scriptsDirectory: stored.scriptsDirectory, skipped: skipped, resolvedAt: Date())
      logger.warning("\(why); using the cached mini \(selection.label)")
      remember(selection, key: key, failed: true)
      return selection
    }
    let selection = MiniSelection(
      setting: setting, origin: .builtin, repository: repository, tag: nil, imageID: nil, scriptsDirectory: nil,
      skipped: skipped, resolvedAt: Date())
    logger.notice(
      "no mini image found for \(setting.reference) (\(why)); using the scripts built into dstack \(DstackRelease.version)"
    )
    remember(selection, key: key, failed: true)
    return selection
  }

  /// The cached mini to fall back on: the one this setting last resolved to, else the
  /// newest cached one that matches it. A mini that came from the local engine (it has no
  /// registry manifest) qualifies only while the engine still has it.
  private func lastUsable(_ setting: MiniSetting, key: String) -> (MiniCache.Entry, MiniCache.StoredEntry)? {
    let reference = setting.reference
    let matching = cache.allEntries().filter { entry in
      entry.repository == reference.repository && entry.api <= hostAPILevel
        && (reference.tag == nil || entry.tag == reference.tag)
        && (reference.digest == nil || entry.manifestDigest?.description == reference.digest)
    }
    let last = cache.resolution(for: key)?.imageID
    let ordered = matching.filter { $0.imageID == last } + matching.filter { $0.imageID != last }
    for entry in ordered {
      if entry.manifestDigest == nil, localImageID(entry.imageID.description) == nil { continue }
      if case .found(let stored) = cache.entry(imageID: entry.imageID) { return (entry, stored) }
    }
    return nil
  }

  /// Says once that newer minis were passed over (not again while the same one is newest).
  private func announceSkipped(
    _ skipped: [SkippedMini], using selection: MiniSelection, previous: MiniCache.Resolution?
  ) {
    guard let newest = skipped.first, previous?.skipped.first != newest else { return }
    let more = skipped.count > 1 ? " (and \(skipped.count - 1) more)" : ""
    logger.notice(
      "skipped mini \(newest.tag)\(more): \(newest.reason), and this dstack offers level \(hostAPILevel); a newer dstack would use it. Using \(selection.tag ?? selection.label)."
    )
  }
}

/// Why a mini image's scripts could not be taken out of it.
public enum MiniError: Error, CustomStringConvertible {
  case disappeared(imageID: Digest)
  case noScripts(folder: String)
  case unsupportedLayer(digest: Digest, mediaType: String)
  case cannotStore(path: String, reason: String)
  case layersDoNotMatch(detail: String)

  public var description: String {
    switch self {
    case .disappeared(let imageID):
      "image \(imageID.short) disappeared from the local engine while dstack read it; run again"
    case .noScripts(let folder):
      "the image has no scripts in \(folder); publish minis with scripts/publish-mini"
    case .unsupportedLayer(let digest, let mediaType):
      "layer \(digest.short) is \(mediaType), which dstack does not read; publish the mini with gzip layers"
    case .layersDoNotMatch(let detail):
      "the image's layers do not match its configuration (\(detail)); the registry served altered content, so nothing was used"
    case .cannotStore(let path, let reason):
      "cannot store the mini's scripts in \(path) (\(reason)); check that the cache folder is writable, or set DSTACK_CACHE_DIR"
    }
  }
}
