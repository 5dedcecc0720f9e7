import FoundationEssentials
import Logging

/// Fallbacks and notices: the cached or built-in scripts when no candidate can be used.
extension MiniResolver {
  /// The newest cached mini this host can run (verified with a trusted key, when keys are
  /// set), else the built-in scripts (with keys, only when `DSTACK_ALLOW_BUILTIN=1`);
  /// announced once.
  func fallback(_ setting: MiniSetting, key: String, problems: [String], skipped: [SkippedMini])
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
  func builtin(_ setting: MiniSetting, why: String, skipped: [SkippedMini]) throws(UntrustedMiniError)
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
  func lastUsable(_ setting: MiniSetting, key: String) -> (MiniCache.Entry, MiniCache.StoredEntry)? {
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
  func announceSkipped(
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
