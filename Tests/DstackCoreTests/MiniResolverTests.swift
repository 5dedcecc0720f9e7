import Crypto
import DstackTestSupport
import Foundation
import Logging
import Synchronization
import Testing

@testable import DstackEngine

/// A mini image as data: its labels and the files of its scripts folder, one layer.
private struct RecordedImage {
  let labels: [String: String]
  let files: [String: String]
  /// A layer that does not unpack to the configuration's diff ID (damaged on the way).
  var damagedLayer = false

  var layer: [UInt8] {
    tarArchive(files.sorted { $0.key < $1.key }.map { (MiniResolver.scriptsFolder + "/" + $0.key, $0.value, "0") })
  }
  var configuration: ImageConfiguration {
    ImageConfiguration(
      labels: labels, created: nil, os: "linux", architecture: "amd64", diffIDs: [DstackEngine.Digest(of: layer)])
  }
  /// The image ID: the digest of its configuration.
  var id: DstackEngine.Digest {
    DstackEngine.Digest(of: Array("config \(labels.sorted { $0.key < $1.key }) \(DstackEngine.Digest(of: layer))".utf8))
  }
  var served: [UInt8] { damagedLayer ? layer + [UInt8](repeating: 0, count: 512) : layer }
  var manifest: ImageManifest {
    ImageManifest(
      digest: DstackEngine.Digest(of: Array("manifest \(id)".utf8)), indexDigest: nil,
      config: Descriptor(mediaType: nil, digest: id, size: nil, annotations: nil),
      layers: [
        Descriptor(
          mediaType: "application/vnd.oci.image.layer.v1.tar", digest: DstackEngine.Digest(of: served), size: nil,
          annotations: nil)
      ])
  }

  static func mini(api: String? = nil, script: String = "print('hi')") -> RecordedImage {
    RecordedImage(labels: api.map { [MiniResolver.apiLabel: $0] } ?? [:], files: ["hello.lua": script])
  }
}

/// A registry's answers as data: tags, images, cosign signatures, and a failure to give instead.
private final class RecordedRegistry: ImageRegistry {
  var images: [String: RecordedImage] = [:]
  /// Cosign signature manifests and payloads, by the tag cosign stores them under.
  var signatures: [String: (manifest: ImageManifest, payload: [UInt8])] = [:]
  var failure: RegistryError?
  /// What was asked, in order.
  private(set) var reads: [String] = []

  private func answer<T>(_ what: String, _ value: () -> T?) throws(RegistryError) -> T {
    reads.append(what)
    if let failure { throw failure }
    guard let value = value() else { throw .notFound(what: what) }
    return value
  }

  func tags(of repository: RegistryRepository, pageSize: Int) throws(RegistryError) -> (tags: [String], pages: Int) {
    try answer("tags") { (Array(images.keys) + Array(signatures.keys), 1) }
  }

  func manifest(of repository: RegistryRepository, reference: String) throws(RegistryError) -> ImageManifest {
    try answer("manifest \(reference)") {
      images[reference]?.manifest ?? signatures[reference]?.manifest
        ?? images.values.first(where: { $0.manifest.digest.description == reference })?.manifest
    }
  }

  func blob(of repository: RegistryRepository, digest: DstackEngine.Digest) throws(RegistryError) -> Data {
    try answer("blob \(digest.short)") {
      (images.values.first(where: { DstackEngine.Digest(of: $0.served) == digest })?.served
        ?? signatures.values.first(where: { DstackEngine.Digest(of: $0.payload) == digest })?.payload).map { Data($0) }
    }
  }

  func configuration(of repository: RegistryRepository, config: DstackEngine.Digest) throws(RegistryError)
    -> ImageConfiguration
  {
    try answer("configuration \(config.short)") { images.values.first(where: { $0.id == config })?.configuration }
  }

  /// Signs `tag`'s manifest with `key` as cosign does (a simple-signing payload for `repository`).
  func sign(_ tag: String, as repository: String, with key: P256.Signing.PrivateKey) throws {
    let digest = try #require(images[tag]).manifest.digest
    let payload = Array(
      #"{"critical":{"identity":{"docker-reference":"\#(repository)"},"image":{"docker-manifest-digest":"\#(digest)"},"type":"cosign container image signature"},"optional":null}"#
        .utf8)
    let signature = try key.signature(for: payload).derRepresentation.base64EncodedString()
    let layer = Descriptor(
      mediaType: CosignSignatures.payloadMediaType, digest: DstackEngine.Digest(of: payload), size: payload.count,
      annotations: [CosignSignatures.signatureAnnotation: signature])
    let manifest = ImageManifest(
      digest: DstackEngine.Digest(of: payload + [1]), indexDigest: nil,
      config: Descriptor(mediaType: nil, digest: DstackEngine.Digest(of: [2]), size: nil, annotations: nil),
      layers: [layer])
    signatures[CosignSignatures.signatureTag(for: digest)] = (manifest, payload)
  }
}

/// The local engine's images as data; counts the folders copied out of them.
private final class RecordedEngine: LocalImages {
  var images: [String: RecordedImage] = [:]
  private(set) var copies = 0

  func localTags(_ repository: String) throws(DockerError) -> [(tag: String, imageID: DstackEngine.Digest)] {
    images.map { ($0.key, $0.value.id) }
  }

  func inspectImage(_ reference: String) throws(DockerError) -> JSONValue? {
    guard
      let image = images.first(where: { $0.value.id.description == reference || reference.hasSuffix(":" + $0.key) })?
        .value
    else { return nil }
    return .object([
      "Id": .string(image.id.description), "RepoDigests": .array([]),
      "Config": .object(["Labels": .object(image.labels.mapValues { JSONValue.string($0) })]),
    ])
  }

  func copyFolder(_ path: String, outOf imageID: DstackEngine.Digest) throws(DockerError) -> [UInt8] {
    copies += 1
    guard let image = images.values.first(where: { $0.id == imageID }) else {
      throw .failed(command: ["docker", "cp"], status: 1, detail: "No such image")
    }
    // As `docker cp CONTAINER:PATH -` writes it: the folder under its own name.
    let folder = path.split(separator: "/").last.map(String.init) ?? path
    return tarArchive(image.files.sorted { $0.key < $1.key }.map { (folder + "/" + $0.key, $0.value, "0") })
  }
}

/// The messages logged at notice level and above.
private final class Messages: Sendable {
  private let lines = Mutex<[String]>([])
  var all: [String] { lines.withLock { $0 } }

  struct Handler: LogHandler {
    let messages: Messages
    var logLevel: Logger.Level = .notice
    var metadata: Logger.Metadata = [:]
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
      get { metadata[key] }
      set { metadata[key] = newValue }
    }
    func log(event: LogEvent) { messages.lines.withLock { $0.append("\(event.level): \(event.message)") } }
  }

  var logger: Logger { Logger(label: "mini-resolver-tests") { _ in Handler(messages: self) } }
}

/// The mini's choice, branch by branch, on recorded registry and engine answers: no
/// engine, no registry, no network; each test its own cache folder.
@Suite("Choosing the mini")
final class MiniResolverTests {
  let scratch = Scratch()
  private let registry = RecordedRegistry()
  private let engine = RecordedEngine()
  private let messages = Messages()
  let setting = MiniSetting(reference: ImageReference(parsing: "registry.test/team/mini"), origin: "--mini")
  deinit { scratch.cleanUp() }

  private func select(
    _ setting: MiniSetting? = nil, offline: Bool = false, refresh: Bool = false, hostAPILevel: Int = 2
  ) throws -> MiniSelection {
    try MiniResolver(
      docker: engine, registry: registry, cache: MiniCache(root: scratch.path("cache")), logger: messages.logger,
      policy: LookupPolicy(offline: offline, refresh: refresh), hostAPILevel: hostAPILevel
    ).select(setting ?? self.setting)
  }

  private func script(of selection: MiniSelection) throws -> String {
    try String(contentsOfFile: try #require(selection.scriptsDirectory) + "/hello.lua", encoding: .utf8)
  }

  @Test("the newest version this host can run wins; a newer one that needs a higher level is named once")
  func newestCompatible() throws {
    registry.images = [
      "24.01.01": .mini(script: "old"), "24.02.01": .mini(api: "2", script: "new"), "24.03.01": .mini(api: "3"),
      "latest": .mini(api: "3"), "24.02.01-rc": .mini(),
    ]
    let selection = try select()
    #expect((selection.origin, selection.tag) == (.registry, "24.02.01"))
    #expect(try script(of: selection) == "new")
    #expect(selection.skipped.map(\.tag) == ["24.03.01"])
    #expect(
      messages.all == [
        "notice: skipped mini 24.03.01: it needs dstack API level 3, and this dstack offers level 2; a newer dstack would use it. Using 24.02.01."
      ])
    _ = try select(refresh: true)
    #expect(messages.all.count == 1, "the same skipped version was named again: \(messages.all)")
  }

  @Test("a look-up is remembered: the next run asks the registry nothing; --refresh asks again")
  func remembered() throws {
    registry.images = ["24.01.01": .mini()]
    _ = try select()
    let asked = registry.reads.count
    #expect(try select().tag == "24.01.01")
    #expect(registry.reads.count == asked, "a remembered look-up asked again: \(registry.reads)")
    registry.images["24.02.01"] = .mini(script: "newer")
    #expect(try select(refresh: true).tag == "24.02.01")
  }

  @Test("a registry that fails: the mini this setting last used, with a warning; nothing cached: the built-in scripts")
  func registryDown() throws {
    registry.failure = .unreachable(registry: "registry.test", reason: "connection refused")
    let builtin = try select()
    #expect(builtin.origin == .builtin && builtin.scriptsDirectory == nil)
    #expect(
      messages.all.last?.contains("no mini image found for registry.test/team/mini (cannot reach registry") == true)
    registry.failure = nil
    registry.images = ["24.01.01": .mini(script: "cached")]
    _ = try select(refresh: true)
    registry.failure = .unreachable(registry: "registry.test", reason: "connection refused")
    let cached = try select(refresh: true)
    #expect((cached.origin, cached.tag) == (.cache, "24.01.01"))
    #expect(try script(of: cached) == "cached")
    #expect(messages.all.last?.hasPrefix("warning: cannot reach registry registry.test") == true, "\(messages.all)")
    #expect(messages.all.last?.contains("using the cached mini registry.test/team/mini:24.01.01 (sha256:") == true)
  }

  @Test("a version only the local engine has is copied out of it, once; --offline asks no registry")
  func localEngine() throws {
    registry.images = ["24.01.01": .mini()]
    engine.images = ["24.05.01": .mini(script: "local")]
    let selection = try select()
    #expect((selection.origin, selection.tag) == (.localEngine, "24.05.01"))
    #expect(try script(of: selection) == "local")
    #expect(try select(refresh: true).tag == "24.05.01")
    #expect(engine.copies == 1, "the cached scripts were copied out again")
    let asked = registry.reads.count
    engine.images["24.06.01"] = .mini(script: "offline")
    #expect(try select(offline: true, refresh: true).tag == "24.06.01")
    #expect(registry.reads.count == asked, "--offline asked the registry: \(registry.reads)")
  }

  @Test("a label that is not a level, or a layer that does not match its diff ID, passes to the next older version")
  func unusableVersions() throws {
    var damaged = RecordedImage.mini(script: "damaged")
    damaged.damagedLayer = true
    registry.images = ["24.01.01": .mini(script: "good"), "24.02.01": .mini(api: "two"), "24.03.01": damaged]
    let selection = try select()
    #expect(selection.tag == "24.01.01")
    #expect(selection.skipped.map(\.reason) == ["its io.dstack.api label 'two' is not a level (1, 2, …)"])
    guard case .missing = MiniCache(root: scratch.path("cache")).entry(imageID: damaged.id) else {
      Issue.record("the damaged version was cached")
      return
    }
  }

  @Test("twenty unreadable versions are enough: the older ones are not tried, and the error says so")
  func candidateLimit() throws {
    for day in 1...25 {
      var image = RecordedImage.mini(script: "\(day)")
      image.damagedLayer = true
      registry.images["24.01.\(String(format: "%02d", day))"] = image
    }
    let selection = try select()
    #expect(selection.origin == .builtin)
    let manifests = registry.reads.filter { $0.hasPrefix("manifest ") }
    #expect(manifests.count == MiniResolver.candidateLimit)
    #expect(messages.all.last?.contains("the newest 20 version tags could not be read") == true, "\(messages.all)")
    #expect(messages.all.last?.contains("5 older ones were not tried") == true)
  }

  @Test("with a trusted key: none signed is an error; an unsigned newer version is skipped with a warning")
  func signatures() throws {
    let key = P256.Signing.PrivateKey()
    let keyFile = try scratch.write("team.pub", key.publicKey.pemRepresentation)
    let trust = MiniTrust(
      keys: [try TrustedKey(path: keyFile, origin: "test")], origin: "DSTACK_MINI_KEY", allowsBuiltin: false)
    let signed = MiniSetting(reference: setting.reference, origin: "--mini", trust: trust)
    registry.images = ["24.01.01": .mini(script: "signed"), "24.02.01": .mini(script: "unsigned")]
    let refused = #expect(throws: UntrustedMiniError.self) { try self.select(signed) }
    #expect(refused?.description.contains("DSTACK_ALLOW_BUILTIN=1") == true, "\(String(describing: refused))")
    try registry.sign("24.01.01", as: "registry.test/team/mini", with: key)
    let selection = try select(signed, refresh: true)
    #expect(selection.tag == "24.01.01" && selection.signedBy?.path == keyFile)
    #expect(try script(of: selection) == "signed")
    #expect(
      messages.all.contains { $0.hasPrefix("warning: mini 24.02.01 is not signed by a trusted key") }, "\(messages.all)"
    )
    #expect(try select(refresh: true).tag == "24.02.01", "without keys, the newest version runs")
  }
}
