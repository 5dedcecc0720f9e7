import FoundationEssentials

/// The registry reads that choosing a mini makes: a repository's tags, a manifest, an
/// image configuration and a blob. `RegistryClient` is the one dstack uses; tests of the
/// choice give recorded answers instead of a registry.
package protocol ImageRegistry {
  /// All tags of `repository`, reading `pageSize` at a time, and how many pages were read.
  func tags(of repository: RegistryRepository, pageSize: Int) throws(RegistryError) -> (tags: [String], pages: Int)
  /// The manifest of `reference` (a tag or a digest) for this machine's platform.
  func manifest(of repository: RegistryRepository, reference: String) throws(RegistryError) -> ImageManifest
  /// The blob `digest`, checked against its digest.
  func blob(of repository: RegistryRepository, digest: Digest) throws(RegistryError) -> Data
  /// The parts of an image configuration that dstack reads.
  func configuration(of repository: RegistryRepository, config: Digest) throws(RegistryError) -> ImageConfiguration
}

extension RegistryClient: ImageRegistry {}
