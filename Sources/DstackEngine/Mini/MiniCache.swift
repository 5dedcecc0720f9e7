import FoundationEssentials

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// dstack's cache of mini scripts, keyed by content digest, under
/// `HostEnvironment.cacheDirectory`.
///
/// - `minis/sha256-<image id>/`: the scripts of one mini image (`scripts/…`) and
///   `entry.json`, which records the digest of every file so a damaged entry is noticed,
///   and the key whose signature of the image was verified, if any.
/// - `resolutions/<hash of the mini setting>.json`: the last tag look-up, trusted for
///   `MiniCache.lookupLifetime`.
///
/// Every write goes to a temporary name first and is renamed into place, so readers
/// never see half a file or half an entry, and several dstack processes can share the cache.
package struct MiniCache: Sendable {
  package let root: String

  package init(root: String) { self.root = root }

  /// What is recorded about one cached mini image.
  package struct Entry: Codable, Sendable {
    package let repository: String
    package let tag: String?
    /// The image ID (the digest of the image configuration).
    package let imageID: Digest
    /// The registry manifest digest, when the image came from a registry.
    package let manifestDigest: Digest?
    /// The host API level the scripts need (`io.dstack.api`).
    package let api: Int
    /// The digest of every file under `scripts/`.
    package let files: [String: Digest]
    package let storedAt: Date
    /// The signature that was verified for the image, when one was.
    package var verification: Verification?

    /// The verification of the image as `repository` (and, when given, one of the manifest
    /// `digests`) with one of `trust`'s keys; nil when it was verified for another
    /// repository or manifest, with another key, or not at all.
    package func verification(under trust: MiniTrust, repository: String, digests: [Digest]? = nil) -> Verification? {
      guard let verification, verification.repository == repository,
        trust.key(withFingerprint: verification.key) != nil,
        digests.map({ $0.contains(verification.manifestDigest) }) ?? true
      else { return nil }
      return verification
    }
  }

  /// A verified signature of a cached image: which key signed which manifest of which
  /// repository. It stands for that repository and manifest only: the same image under
  /// another name, or another manifest of it, is verified again.
  package struct Verification: Codable, Sendable {
    /// The fingerprint of the key whose signature verified (`TrustedKey.fingerprint`).
    package let key: String
    /// The repository the signature names (nil in records written before it was kept:
    /// such a record stands for nothing and the image is verified again).
    package let repository: String?
    /// The manifest digest the signature was for.
    package let manifestDigest: Digest
    package let verifiedAt: Date

    package init(key: String, repository: String, manifestDigest: Digest, verifiedAt: Date) {
      self.key = key
      self.repository = repository
      self.manifestDigest = manifestDigest
      self.verifiedAt = verifiedAt
    }

    /// True when both are for the same key, repository and manifest.
    package func isSame(as other: Verification) -> Bool {
      key == other.key && repository == other.repository && manifestDigest == other.manifestDigest
    }
  }

  /// A cached entry and the folder of its scripts.
  package struct StoredEntry: Sendable {
    package let entry: Entry
    package let scriptsDirectory: String
  }

  /// The result of looking an entry up.
  package enum Lookup: Sendable {
    case found(StoredEntry)
    case missing
    /// The entry existed but its files did not match their digests; it has been removed.
    case corrupted(reason: String)
  }

  private var minis: String { root + "/minis" }
  private var resolutions: String { root + "/resolutions" }

  private func entryDirectory(_ imageID: Digest) -> String { minis + "/sha256-" + imageID.hex }

  /// The entry for `imageID`, with every file checked against its recorded digest.
  package func entry(imageID: Digest) -> Lookup {
    let directory = entryDirectory(imageID)
    guard let data = FileManager.default.contents(atPath: directory + "/entry.json") else {
      return FileManager.default.fileExists(atPath: directory) ? discard(directory, "entry.json is missing") : .missing
    }
    guard let entry = try? Self.decoder.decode(Entry.self, from: data), entry.imageID == imageID else {
      return discard(directory, "entry.json is unreadable")
    }
    let scripts = directory + "/scripts"
    let present = Paths.regularFiles(under: scripts)
    guard Set(present) == Set(entry.files.keys) else { return discard(directory, "files were added or removed") }
    for (path, digest) in entry.files {
      guard let bytes = Paths.contents(of: scripts + "/" + path), Digest(of: bytes) == digest else {
        return discard(directory, "\(path) does not match its digest")
      }
    }
    return .found(StoredEntry(entry: entry, scriptsDirectory: scripts))
  }

  /// Every readable entry (without checking file digests), newest first by tag.
  package func allEntries() -> [Entry] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: minis)) ?? []
    return names.filter { $0.hasPrefix("sha256-") }.compactMap { name in
      FileManager.default.contents(atPath: "\(minis)/\(name)/entry.json").flatMap {
        try? Self.decoder.decode(Entry.self, from: $0)
      }
    }.sorted { first, second in
      switch (ImageVersion(first.tag ?? ""), ImageVersion(second.tag ?? "")) {
      case (let a?, let b?): a > b
      case (.some, nil): true
      default: false
      }
    }
  }

  /// Stores `files` as the scripts of an image, atomically, and returns the stored entry.
  package func store(
    files: [String: [UInt8]], repository: String, tag: String?, imageID: Digest, manifestDigest: Digest?, api: Int,
    verification: Verification?
  ) throws -> StoredEntry {
    let fileManager = FileManager.default
    do {
      try fileManager.createDirectory(atPath: minis, withIntermediateDirectories: true)
    } catch {
      throw MiniError.cannotStore(path: minis, reason: Paths.reason(error))
    }
    removeLeftovers()
    let staging = minis + "/.staging-" + UUID().uuidString
    defer { try? fileManager.removeItem(atPath: staging) }
    let record = Entry(
      repository: repository, tag: tag, imageID: imageID, manifestDigest: manifestDigest, api: api,
      files: files.mapValues { Digest(of: $0) }, storedAt: Date(), verification: verification)
    do {
      for (path, bytes) in files {
        let target = staging + "/scripts/" + path
        try fileManager.createDirectory(atPath: Paths.parent(target), withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
      }
      try fileManager.createDirectory(atPath: staging + "/scripts", withIntermediateDirectories: true)
      try Self.encoder.encode(record).write(to: URL(fileURLWithPath: staging + "/entry.json"))
    } catch {
      throw MiniError.cannotStore(path: minis, reason: Paths.reason(error))
    }
    let final = entryDirectory(imageID)
    if rename(staging, final) != 0 {
      // Another dstack stored the same image first (its entry is identical but perhaps for
      // the verification) or a damaged entry is in the way; a damaged one is replaced.
      if case .found(let stored) = entry(imageID: imageID) {
        return try verification.map { try self.record($0, for: stored) } ?? stored
      }
      guard rename(staging, final) == 0 else {
        throw MiniError.cannotStore(path: final, reason: String(cString: strerror(errno)))
      }
    }
    return StoredEntry(entry: record, scriptsDirectory: final + "/scripts")
  }

  /// Records that the signature `verification` of a stored image was verified, and
  /// returns the entry with it.
  package func record(_ verification: Verification, for stored: StoredEntry) throws -> StoredEntry {
    var entry = stored.entry
    entry.verification = verification
    let path = entryDirectory(entry.imageID) + "/entry.json"
    do {
      try Self.encoder.encode(entry).write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
      throw MiniError.cannotStore(path: path, reason: Paths.reason(error))
    }
    return StoredEntry(entry: entry, scriptsDirectory: stored.scriptsDirectory)
  }

  /// Removes staging and discarded folders that a killed dstack left more than an hour ago.
  private func removeLeftovers() {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: minis)) ?? []
    for name in names where name.hasPrefix(".staging-") || name.hasPrefix(".discarded-") {
      let path = minis + "/" + name
      var info = stat()
      if stat(path, &info) == 0, Int(time(nil)) - Int(info.st_mtim.tv_sec) > 3600 {
        try? FileManager.default.removeItem(atPath: path)
      }
    }
  }

  /// Moves a damaged entry out of the way (rename first, so no reader sees it half-deleted).
  private func discard(_ directory: String, _ reason: String) -> Lookup {
    let trash = minis + "/.discarded-" + UUID().uuidString
    if rename(directory, trash) == 0 { try? FileManager.default.removeItem(atPath: trash) }
    return .corrupted(reason: reason)
  }

  // MARK: - Tag look-ups

  /// The last look-up for a mini setting.
  package struct Resolution: Codable, Sendable {
    /// The mini setting it answers (`repo`, `repo:tag` or `repo@digest`).
    package let setting: String
    package let resolvedAt: Date
    package let repository: String
    package let tag: String?
    /// nil when the look-up ended with the built-in scripts.
    package let imageID: Digest?
    /// The registry manifest digest, when known (also for a local image that was pushed).
    package var manifestDigest: Digest?
    /// Where the mini came from: `registry`, `local engine`, `cache`, `built-in`.
    package let source: String
    package let skipped: [SkippedMini]
    /// Until when the look-up is trusted (shorter after a failure).
    package var trustedUntil: Date?
  }

  package func resolution(for setting: String) -> Resolution? {
    FileManager.default.contents(atPath: resolutionPath(setting)).flatMap {
      try? Self.decoder.decode(Resolution.self, from: $0)
    }
  }

  package func save(_ resolution: Resolution) {
    try? FileManager.default.createDirectory(atPath: resolutions, withIntermediateDirectories: true)
    guard let data = try? Self.encoder.encode(resolution) else { return }
    try? data.write(to: URL(fileURLWithPath: resolutionPath(resolution.setting)), options: .atomic)
  }

  private func resolutionPath(_ setting: String) -> String {
    resolutions + "/" + Digest(of: Array(setting.utf8)).short + ".json"
  }

  /// Cache records are JSON with times as seconds since 1970: reading an ISO 8601 date
  /// loads the time zone database, which costs more than the rest of a warm run's reads.
  static var encoder: JSONEncoder {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.dateEncodingStrategy = .secondsSince1970
    return encoder
  }

  static var decoder: JSONDecoder {
    let decoder = JSONDecoder()
    decoder.dateDecodingStrategy = .secondsSince1970
    return decoder
  }
}

/// A mini tag passed over because this host cannot run it or may not trust it.
package struct SkippedMini: Codable, Sendable, Equatable {
  /// Why a mini was passed over.
  package enum Cause: String, Codable, Sendable {
    /// It needs a higher host API level, or its level label is malformed.
    case apiLevel
    /// No valid signature by a trusted key.
    case signature
  }

  package let tag: String
  /// The API level it needs, when its label could be read.
  package let api: Int?
  /// Why it was skipped, for people.
  package let reason: String
  /// nil in records written before signatures were checked: `apiLevel`.
  private let cause: Cause?

  package init(tag: String, api: Int?, reason: String, cause: Cause) {
    self.tag = tag
    self.api = api
    self.reason = reason
    self.cause = cause
  }

  /// Why it was passed over.
  package var kind: Cause { cause ?? .apiLevel }
}
