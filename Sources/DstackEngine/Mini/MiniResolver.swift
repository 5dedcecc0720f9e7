import FoundationEssentials
import Logging

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
package final class MiniResolver {
  let docker: any LocalImages
  let registry: any ImageRegistry
  let cache: MiniCache
  let logger: Logger
  let offline: Bool
  let refresh: Bool
  let hostAPILevel: Int
  /// Registry manifests read while checking labels, reused when extracting.
  var manifests: [String: ImageManifest] = [:]

  /// - Parameter hostAPILevel: the highest `io.dstack.api` this host can run.
  package init(
    docker: any LocalImages, registry: any ImageRegistry, cache: MiniCache, logger: Logger, policy: LookupPolicy,
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
  package static let apiLabel = "io.dstack.api"

  /// Selects the mini for `setting`. Without keys it never fails (the built-in scripts
  /// are the last resort); with keys it fails when no signed mini can be used.
  package func select(_ setting: MiniSetting) throws(UntrustedMiniError) -> MiniSelection {
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
}
