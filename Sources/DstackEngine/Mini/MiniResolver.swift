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
  /// The registry manifest digest (what a pin `repo@sha256:…` names); nil for a mini
  /// only the local engine has, and for the built-in scripts.
  public let manifestDigest: Digest?
  /// The folder of the scripts; nil for the built-in scripts.
  public let scriptsDirectory: String?
  /// Newer tags passed over because this host cannot run them.
  public let skipped: [SkippedMini]
  /// When the tag look-up was made (earlier than now when a remembered one was used).
  public let resolvedAt: Date
  /// The key whose signature of the mini was verified; nil when the setting names no key
  /// (or for the built-in scripts, which `DSTACK_ALLOW_BUILTIN=1` allowed).
  public let signedBy: TrustedKey?

  /// How the built-in scripts are named in messages.
  public static let builtinLabel = "built-in scripts (dstack \(DstackRelease.version))"

  /// `repo:tag (sha256:abcdef012345)` with the start of the manifest digest (of the image
  /// ID for a mini only the local engine has), or the built-in scripts.
  public var label: String {
    guard let imageID else { return Self.builtinLabel }
    let digest = manifestDigest ?? imageID
    return "\(repository)\(tag.map { ":\($0)" } ?? "") (\(digest.description.prefix(19)))"
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
///
/// When the setting names keys (`MiniTrust`), a tag is a candidate only if its manifest
/// has a valid cosign signature by one of them (`CosignSignatures`); others are skipped
/// like incompatible ones. The verification is recorded with the cache entry, so a
/// remembered look-up checks nothing again, and only entries verified with one of the
/// keys are used. When no signed mini can be used it is an error: the built-in scripts
/// run only when `DSTACK_ALLOW_BUILTIN=1` allows it.
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

  /// Selects the mini for `setting`. Without keys it never fails (the built-in scripts
  /// are the last resort); with keys it fails when no signed mini can be used.
  public func select(_ setting: MiniSetting) throws(UntrustedMiniError) -> MiniSelection {
    if setting.kind == .builtin { return try builtin(setting, why: "nothing names a mini", skipped: []) }
    let key = setting.reference.description + (setting.trust.map { " signed by " + $0.identity } ?? "")
    if !refresh, let remembered = rememberedSelection(setting, key: key) { return remembered }
    var problems: [String] = []
    var skipped: [SkippedMini] = []
    let repository = setting.reference.repository
    let candidates = candidates(setting, problems: &problems)
    for (index, found) in candidates.enumerated() {
      guard index < Self.candidateLimit else {
        problems.insert(
          "the newest \(Self.candidateLimit) version tags could not be read (\(problems.last ?? "")); "
            + "\(candidates.count - index) older ones were not tried", at: 0)
        break
      }
      do {
        guard let (candidate, verification) = try signature(of: found, trust: setting.trust, skipped: &skipped),
          let api = try apiLevel(of: candidate, skipped: &skipped)
        else { continue }
        let stored = try scripts(of: candidate, api: api, verification: verification)
        let selection = MiniSelection(
          setting: setting, origin: candidate.origin, repository: repository, tag: candidate.tag,
          imageID: stored.entry.imageID, manifestDigest: stored.entry.manifestDigest ?? pushedDigest(of: candidate),
          scriptsDirectory: stored.scriptsDirectory, skipped: skipped, resolvedAt: Date(),
          signedBy: verification.flatMap { setting.trust?.key(withFingerprint: $0.key) })
        announceSkipped(skipped, using: selection, previous: cache.resolution(for: key))
        remember(selection, key: key)
        return selection
      } catch {
        problems.append("\(found.tag ?? "") from the \(found.origin.rawValue): \(error)")
      }
    }
    return try fallback(setting, key: key, problems: problems, skipped: skipped)
  }

  // MARK: - Remembered look-ups

  private func rememberedSelection(_ setting: MiniSetting, key: String) -> MiniSelection? {
    guard let resolution = cache.resolution(for: key),
      LookupPolicy.isFresh(
        madeAt: resolution.resolvedAt,
        lifetime: resolution.trustedUntil.map { $0.timeIntervalSince(resolution.resolvedAt) } ?? LookupPolicy.lifetime)
    else { return nil }
    guard let imageID = resolution.imageID else {
      if let trust = setting.trust, !trust.allowsBuiltin { return nil }
      return MiniSelection(
        setting: setting, origin: .builtin, repository: resolution.repository, tag: nil, imageID: nil,
        manifestDigest: nil, scriptsDirectory: nil, skipped: resolution.skipped, resolvedAt: resolution.resolvedAt,
        signedBy: nil)
    }
    switch cache.entry(imageID: imageID) {
    case .found(let stored):
      var signedBy: TrustedKey?
      if let trust = setting.trust {
        guard
          let key = stored.entry.verification(under: trust, repository: resolution.repository)
            .flatMap({ trust.key(withFingerprint: $0.key) })
        else { return nil }
        signedBy = key
      }
      return MiniSelection(
        setting: setting, origin: MiniSelection.Origin(rawValue: resolution.source) ?? .cache,
        repository: resolution.repository, tag: resolution.tag, imageID: imageID,
        manifestDigest: resolution.manifestDigest ?? stored.entry.manifestDigest,
        scriptsDirectory: stored.scriptsDirectory,
        skipped: resolution.skipped, resolvedAt: resolution.resolvedAt,
        signedBy: signedBy)
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
        imageID: selection.imageID, manifestDigest: selection.manifestDigest, source: selection.origin.rawValue,
        skipped: selection.skipped,
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

    /// The same tag or digest, read from the registry instead of the local engine.
    var fromRegistry: Candidate {
      Candidate(repository: repository, tag: tag, digest: digest, origin: .registry, localImageID: nil)
    }
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

  /// The registry manifest digest of a local candidate that was pushed to (or pulled
  /// from) its repository, from the engine's `RepoDigests`; nil otherwise.
  private func pushedDigest(of candidate: Candidate) -> Digest? {
    repoDigests(of: candidate).first
  }

  /// The manifest digests the local engine knows for a local candidate in its repository
  /// (`RepoDigests`: what it was pushed as or pulled by).
  private func repoDigests(of candidate: Candidate) -> [Digest] {
    if let digest = candidate.digest { return [digest] }
    guard candidate.origin == .localEngine, let tag = candidate.tag,
      case .array(let digests) = (try? docker.inspectImage("\(candidate.repository):\(tag)"))?["RepoDigests"]
    else { return [] }
    return digests.compactMap(\.string).map { ImageReference(parsing: $0) }
      .filter { $0.repository == candidate.repository }.compactMap { $0.digest.flatMap(Digest.init) }
  }

  // MARK: - Signatures

  /// Checks the signature of `candidate` when `trust` names keys. Returns the candidate to
  /// read (a local image with no verified cache entry is read from the registry instead,
  /// where its signature is) and the verified signature (nil without keys); nil, and an
  /// entry in `skipped`, when no trusted key signed it.
  private func signature(of candidate: Candidate, trust: MiniTrust?, skipped: inout [SkippedMini]) throws
    -> (Candidate, MiniCache.Verification?)?
  {
    guard let trust else { return (candidate, nil) }
    var candidate = candidate
    if let localID = candidate.localImageID {
      if let verification = cachedVerification(
        of: localID, repository: candidate.repository, digests: repoDigests(of: candidate), trust: trust)
      {
        return (candidate, verification)
      }
      guard !offline else {
        skipped.append(
          SkippedMini(
            tag: candidate.name, api: nil,
            reason:
              "not signed by a trusted key (only the local engine has it, and --offline asks no registry for its signature)",
            cause: .signature))
        return nil
      }
      candidate = candidate.fromRegistry
    }
    let manifest = try registryManifest(candidate)
    let digests = [manifest.indexDigest, manifest.digest].compactMap { $0 }
    if let verification = cachedVerification(
      of: manifest.config.digest, repository: candidate.repository, digests: digests, trust: trust)
    {
      return (candidate, verification)
    }
    var reason: String?
    for digest in digests {
      switch try CosignSignatures.verify(
        digest: digest, repository: candidate.repository, keys: trust.keys, registry: registry)
      {
      case .verified(let key):
        return (
          candidate,
          MiniCache.Verification(
            key: key.fingerprint, repository: candidate.repository, manifestDigest: digest, verifiedAt: Date())
        )
      case .rejected(let why):
        reason = reason ?? why
      }
    }
    skipped.append(
      SkippedMini(
        tag: candidate.name, api: nil, reason: "not signed by a trusted key (\(reason ?? "no signature"))",
        cause: .signature))
    return nil
  }

  /// The recorded verification of the cached image `imageID`, when one of `trust`'s keys
  /// verified it as `repository` with one of the manifest `digests`.
  private func cachedVerification(of imageID: Digest, repository: String, digests: [Digest], trust: MiniTrust)
    -> MiniCache.Verification?
  {
    guard case .found(let stored) = cache.entry(imageID: imageID) else { return nil }
    return stored.entry.verification(under: trust, repository: repository, digests: digests)
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
          tag: candidate.name, api: nil, reason: "its \(Self.apiLabel) label '\(text)' is not a level (1, 2, …)",
          cause: .apiLevel))
      return nil
    }
    guard api <= hostAPILevel else {
      skipped.append(
        SkippedMini(tag: candidate.name, api: api, reason: "it needs dstack API level \(api)", cause: .apiLevel))
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

  /// The cached scripts of `candidate`, taken out of the image first when needed, with
  /// `verification` recorded.
  private func scripts(of candidate: Candidate, api: Int, verification: MiniCache.Verification?) throws
    -> MiniCache.StoredEntry
  {
    let imageID: Digest
    var manifest: ImageManifest?
    if let localID = candidate.localImageID {
      imageID = localID
    } else {
      manifest = try registryManifest(candidate)
      imageID = manifest?.config.digest ?? candidate.digest ?? Digest(of: [])
    }
    switch cache.entry(imageID: imageID) {
    case .found(let stored):
      guard let verification, stored.entry.verification.map({ !$0.isSame(as: verification) }) ?? true else {
        return stored
      }
      return try cache.record(verification, for: stored)
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
      manifestDigest: manifest?.digest ?? candidate.digest, api: api, verification: verification)
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

  /// The newest cached mini this host can run (verified with a trusted key, when keys are
  /// set), else the built-in scripts (with keys, only when `DSTACK_ALLOW_BUILTIN=1`);
  /// announced once.
  private func fallback(_ setting: MiniSetting, key: String, problems: [String], skipped: [SkippedMini])
    throws(UntrustedMiniError) -> MiniSelection
  {
    let repository = setting.reference.repository
    let unsigned = skipped.first { $0.kind == .signature }
    let incompatible = skipped.first { $0.kind == .apiLevel }
    var why =
      problems.first
      ?? "no version tag of \(repository) that this dstack can run\(setting.trust == nil ? "" : " and a trusted key signed")"
    if let unsigned { why += "; \(unsigned.tag) was skipped: \(unsigned.reason)" }
    if let incompatible {
      why += "; \(incompatible.tag) was skipped: \(incompatible.reason), and this dstack offers level \(hostAPILevel)"
    }
    if let (entry, stored) = lastUsable(setting, key: key) {
      let selection = MiniSelection(
        setting: setting, origin: .cache, repository: repository, tag: entry.tag, imageID: entry.imageID,
        manifestDigest: entry.manifestDigest, scriptsDirectory: stored.scriptsDirectory, skipped: skipped,
        resolvedAt: Date(),
        signedBy: entry.verification.flatMap { setting.trust?.key(withFingerprint: $0.key) })
      logger.warning("\(why); using the cached mini \(selection.label)")
      remember(selection, key: key, failed: true)
      return selection
    }
    let selection = try builtin(setting, why: why, skipped: skipped)
    remember(selection, key: key, failed: true)
    return selection
  }

  /// The scripts built into dstack, for `setting` (with keys, only when
  /// `DSTACK_ALLOW_BUILTIN=1`). Announced when a mini was named and not found; for the
  /// team's default mini that is not published, and when nothing names one, only with
  /// `--verbose` (`dstack scripts` shows which scripts run).
  private func builtin(_ setting: MiniSetting, why: String, skipped: [SkippedMini]) throws(UntrustedMiniError)
    -> MiniSelection
  {
    if let trust = setting.trust, !trust.allowsBuiltin {
      throw UntrustedMiniError(reference: setting.reference.description, why: why, keysOrigin: trust.origin)
    }
    let selection = MiniSelection(
      setting: setting, origin: .builtin, repository: setting.reference.repository, tag: nil, imageID: nil,
      manifestDigest: nil, scriptsDirectory: nil, skipped: skipped, resolvedAt: Date(), signedBy: nil)
    let allowed = setting.trust == nil ? "" : " (unsigned; DSTACK_ALLOW_BUILTIN=1 allows them)"
    let message: Logger.Message =
      setting.kind == .builtin
      ? "no mini is named (DSTACK_NAMESPACE, DSTACK_MINI, --mini or a .dstack-mini pin file); using the scripts built into dstack \(DstackRelease.version)\(allowed)"
      : "no mini image found for \(setting.reference) (\(why)); using the scripts built into dstack \(DstackRelease.version)\(allowed)"
    if setting.kind == .named { logger.notice(message) } else { logger.debug(message) }
    return selection
  }

  /// The cached mini to fall back on: the one this setting last resolved to, else the
  /// newest cached one that matches it (and was verified with a trusted key, when keys are
  /// set). A mini that came from the local engine (it has no registry manifest) qualifies
  /// only while the engine still has it.
  private func lastUsable(_ setting: MiniSetting, key: String) -> (MiniCache.Entry, MiniCache.StoredEntry)? {
    let reference = setting.reference
    let matching = cache.allEntries().filter { entry in
      entry.repository == reference.repository && entry.api <= hostAPILevel
        && (reference.tag == nil || entry.tag == reference.tag)
        && (reference.digest == nil || entry.manifestDigest?.description == reference.digest)
        && (setting.trust.map { entry.verification(under: $0, repository: reference.repository) != nil } ?? true)
    }
    let last = cache.resolution(for: key)?.imageID
    let ordered = matching.filter { $0.imageID == last } + matching.filter { $0.imageID != last }
    for entry in ordered {
      if entry.manifestDigest == nil, localImageID(entry.imageID.description) == nil { continue }
      if case .found(let stored) = cache.entry(imageID: entry.imageID) { return (entry, stored) }
    }
    return nil
  }

  /// Says once that newer minis were passed over, for each cause (not again while the same
  /// one is the newest passed over for it).
  private func announceSkipped(
    _ skipped: [SkippedMini], using selection: MiniSelection, previous: MiniCache.Resolution?
  ) {
    let using = selection.tag ?? selection.label
    for cause in [SkippedMini.Cause.signature, .apiLevel] {
      let passed = skipped.filter { $0.kind == cause }
      guard let newest = passed.first, previous?.skipped.first(where: { $0.kind == cause }) != newest else {
        continue
      }
      let more = passed.count > 1 ? " (and \(passed.count - 1) more)" : ""
      switch cause {
      case .signature:
        logger.warning("mini \(newest.tag) is \(newest.reason); skipped\(more), using \(using)")
      case .apiLevel:
        logger.notice(
          "skipped mini \(newest.tag)\(more): \(newest.reason), and this dstack offers level \(hostAPILevel); a newer dstack would use it. Using \(using)."
        )
      }
    }
  }
}

/// No mini signed by a trusted key could be used, and the built-in scripts are not allowed.
public struct UntrustedMiniError: Error, CustomStringConvertible {
  /// The mini setting (`repo`, `repo:tag`, `repo@digest`).
  public let reference: String
  /// What went wrong, for people.
  public let why: String
  /// Where the keys were named.
  public let keysOrigin: String

  public var description: String {
    "no mini for \(reference) is signed by a trusted key (\(why)); publish one with scripts/publish-mini --sign KEY.pem (or cosign sign --key), check the keys in \(keysOrigin), or set DSTACK_ALLOW_BUILTIN=1 to run the unsigned built-in scripts"
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
