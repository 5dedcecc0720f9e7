import FoundationEssentials
import Logging

/// Signatures: which candidates a trusted key signed (cosign's format).
extension MiniResolver {
  /// Checks the signature of `candidate` when `trust` names keys. Returns the candidate to
  /// read (a local image with no verified cache entry is read from the registry instead,
  /// where its signature is) and the verified signature (nil without keys); nil, and an
  /// entry in `skipped`, when no trusted key signed it.
  func signature(of candidate: Candidate, trust: MiniTrust?, skipped: inout [SkippedMini]) throws
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
  func cachedVerification(of imageID: Digest, repository: String, digests: [Digest], trust: MiniTrust)
    -> MiniCache.Verification?
  {
    guard case .found(let stored) = cache.entry(imageID: imageID) else { return nil }
    return stored.entry.verification(under: trust, repository: repository, digests: digests)
  }
}
