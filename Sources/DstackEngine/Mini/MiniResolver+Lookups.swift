import FoundationEssentials
import Logging

/// Remembered look-ups: a selection is used again for `LookupPolicy.lifetime`.
extension MiniResolver {
  func rememberedSelection(_ setting: MiniSetting, key: String) -> MiniSelection? {
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
  func remember(_ selection: MiniSelection, key: String, failed: Bool = false) {
    cache.save(
      MiniCache.Resolution(
        setting: key, resolvedAt: selection.resolvedAt, repository: selection.repository, tag: selection.tag,
        imageID: selection.imageID, manifestDigest: selection.manifestDigest, source: selection.origin.rawValue,
        skipped: selection.skipped,
        trustedUntil: selection.resolvedAt + (failed ? LookupPolicy.failureLifetime : LookupPolicy.lifetime)))
  }
}
