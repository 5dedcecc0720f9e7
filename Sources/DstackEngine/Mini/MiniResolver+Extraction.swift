import FoundationEssentials
import Logging

/// Extraction: a candidate's API level and its scripts, from the registry or the local engine, into the cache.
extension MiniResolver {
  /// The API level `candidate` needs, or nil (and an entry in `skipped`) when this host cannot run it.
  func apiLevel(of candidate: Candidate, skipped: inout [SkippedMini]) throws -> Int? {
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

  func registryManifest(_ candidate: Candidate) throws -> ImageManifest {
    let key = candidate.repository + " " + candidate.registryReference
    if let known = manifests[key] { return known }
    let manifest = try registry.manifest(
      of: RegistryRepository(candidate.repository), reference: candidate.registryReference)
    manifests[key] = manifest
    return manifest
  }

  /// The cached scripts of `candidate`, taken out of the image first when needed, with
  /// `verification` recorded.
  func scripts(of candidate: Candidate, api: Int, verification: MiniCache.Verification?) throws
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
  package static let scriptsFolder = "dstack/scripts"

  /// Reads the scripts folder from the image's layers, newest layer first. Every layer
  /// must match its digest in the manifest (checked when fetched) and, uncompressed, its
  /// `rootfs.diff_ids` entry in the configuration, whose digest is the image ID the cache
  /// is keyed by: so what is cached under an image ID is that image's content, whatever
  /// registry served it.
  func extractFromRegistry(_ candidate: Candidate, manifest: ImageManifest) throws -> [String: [UInt8]] {
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

  /// Copies the scripts folder out of a local image without running it.
  func extractFromEngine(_ imageID: Digest) throws -> [String: [UInt8]] {
    let archive = try docker.copyFolder("/" + Self.scriptsFolder, outOf: imageID)
    var folder = LayeredFolder(folder: "scripts")
    try folder.addLayer(try Tar.entries(archive))
    return folder.files
  }
}
