import DstackTestSupport
import Foundation
import PropertyBased
import Testing

@testable import DstackEngine
@testable import DstackHost
@testable import DstackLua

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

@Suite("Image layers")
struct LayerArchiveTests {
  @Test(
    "hostile tar size fields give an error, never a crash",
    arguments: [
      [0x80, 0x7F] + [UInt8](repeating: 0xFF, count: 10),  // base-256, near Int.max
      [UInt8](repeating: 0xFF, count: 12),  // base-256, negative
      Array("77777777777\0".utf8),  // octal, larger than the archive
    ])
  func hostileSizes(field: [UInt8]) {
    var archive = tarArchive([("dstack/scripts/a.lua", "x", "0")])
    archive.replaceSubrange(124..<136, with: field)
    #expect(throws: ArchiveError.self) { try Tar.entries(archive) }
  }

  @Test(
    "pax records with impossible lengths give an error or are ignored, never a crash",
    arguments: ["1 ", "2 x", "3 p", "0 ", "-5 path=x\n", "99999999999999999999 x"])
  func hostilePax(record: String) throws {
    var archive = tarArchive([("dstack/scripts/" + String(repeating: "n", count: 120) + ".lua", "x", "0")])
    // Overwrite the pax header's records (after the first 512-byte header).
    let bytes = Array(record.utf8)
    archive.replaceSubrange(512..<(512 + bytes.count), with: bytes)
    _ = try? Tar.entries(archive)
  }

  @Test("fuzz: random and mutated archives never crash the tar reader or gzip")
  func fuzz() async {
    let valid = tarArchive([
      ("dstack/scripts/build.lua", "print(1)", "0"), ("dstack/scripts/" + String(repeating: "l", count: 150), "y", "0"),
    ])
    await propertyCheck(count: 3000, input: Gen<UInt8>.value(in: 0...255).array(of: 0...1536)) { noise in
      _ = try? Tar.entries(noise)
      _ = try? Gzip.decompress([0x1F, 0x8B] + noise)
    }
    await propertyCheck(
      count: 3000, input: Gen.int(in: 0...(valid.count - 1)).array(of: 1...16),
      Gen<UInt8>.value(in: 0...255).array(of: 16)
    ) { positions, values in
      var mutated = valid
      for (position, value) in zip(positions, values) { mutated[position] = value }
      _ = try? Tar.entries(mutated)
    }
  }

  @Test("upper layers win, whiteouts and opaque folders hide lower files, other folders are ignored")
  func layering() throws {
    var folder = LayeredFolder(folder: "dstack/scripts")
    let upper = tarArchive([
      ("dstack/scripts/build.lua", "new build", "0"), ("dstack/scripts/.wh.old.lua", "", "0"),
      ("dstack/scripts/lib/.wh..wh..opq", "", "0"), ("dstack/scripts/lib/fresh.lua", "fresh", "0"),
      ("etc/passwd", "not scripts", "0"),
    ])
    let lower = tarArchive([
      ("dstack/scripts/", "", "5"), ("dstack/scripts/build.lua", "old build", "0"),
      ("dstack/scripts/old.lua", "removed", "0"), ("dstack/scripts/run.lua", "kept", "0"),
      ("dstack/scripts/lib/stale.lua", "hidden by the opaque folder", "0"),
    ])
    try folder.addLayer(try Tar.entries(upper))
    try folder.addLayer(try Tar.entries(lower))
    #expect(
      folder.files.mapValues { String(decoding: $0, as: UTF8.self) } == [
        "build.lua": "new build", "run.lua": "kept", "lib/fresh.lua": "fresh",
      ])
  }

  @Test("a path that climbs out of its folder is refused", arguments: ["dstack/scripts/../../etc/cron.d/x", "../x"])
  func escapes(path: String) throws {
    var folder = LayeredFolder(folder: "dstack/scripts")
    #expect(throws: ArchiveError.self) { try folder.addLayer(try Tar.entries(tarArchive([(path, "x", "0")]))) }
  }

  @Test("long names from pax headers, and ./ prefixes, are read")
  func longNames() throws {
    let deep = "dstack/scripts/lib/" + String(repeating: "nested/", count: 20) + "module.lua"
    var folder = LayeredFolder(folder: "dstack/scripts")
    try folder.addLayer(try Tar.entries(tarArchive([(deep, "deep", "0"), ("./dstack/scripts/a.lua", "a", "0")])))
    #expect(folder.files.keys.sorted() == ["a.lua", String(deep.dropFirst("dstack/scripts/".count))])
  }

  @Test("gzip layers decompress; corrupt and truncated data is an error")
  func gzip() throws {
    let archive = tarArchive([("dstack/scripts/x.lua", String(repeating: "print(1)\n", count: 1000), "0")])
    let compressed = try ProcessRunner.current.run(["gzip", "-c"], stdin: .bytes(archive)).stdout
    #expect(Gzip.isCompressed(compressed))
    #expect(try Gzip.decompress(compressed) == archive)
    #expect(throws: ArchiveError.self) { try Gzip.decompress(Array(compressed.prefix(compressed.count / 2))) }
    #expect(throws: ArchiveError.self) { try Gzip.decompress([0x1F, 0x8B] + [UInt8](repeating: 7, count: 64)) }
    #expect(throws: ArchiveError.self) { try Tar.entries(Array(archive.prefix(700))) }
  }
}

@Suite("Registry protocol details")
struct RegistryProtocolTests {
  @Test("Bearer challenges are parsed, quoted commas included")
  func challenge() {
    let (scheme, parameters) = RegistryClient.parseChallenge(
      #"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:team/mini:pull,push""#
    )
    #expect(scheme == "bearer")
    #expect(
      parameters == [
        "realm": "https://auth.example.com/token", "service": "registry.example.com",
        "scope": "repository:team/mini:pull,push",
      ])
  }

  @Test("the next page comes from the Link header, and only from the same registry")
  func nextPage() throws {
    let url = try #require(URL(string: "https://registry.example.com/v2/team/mini/tags/list?n=2"))
    let repository = RegistryRepository("registry.example.com/team/mini")
    let next = try RegistryClient.nextPage(
      link: #"</v2/team/mini/tags/list?last=b&n=2>; rel="next""#, after: url, repository: repository)
    #expect(next?.absoluteString == "https://registry.example.com/v2/team/mini/tags/list?last=b&n=2")
    #expect(try RegistryClient.nextPage(link: nil, after: url, repository: repository) == nil)
    #expect(throws: RegistryError.self) {
      try RegistryClient.nextPage(
        link: #"<https://evil.example.net/v2/x/tags/list?last=b>; rel="next""#, after: url, repository: repository)
    }
  }

  @Test(
    "repository names map to registries as Docker maps them; loopback registries use HTTP",
    arguments: [
      ("busybox", "docker.io", "registry-1.docker.io", "library/busybox", "https"),
      ("team/app", "docker.io", "registry-1.docker.io", "team/app", "https"),
      ("ghcr.io/team/mini", "ghcr.io", "ghcr.io", "team/mini", "https"),
      ("localhost:5000/dstack/mini", "localhost:5000", "localhost:5000", "dstack/mini", "http"),
      ("127.0.0.2:5000/mini", "127.0.0.2:5000", "127.0.0.2:5000", "mini", "http"),
      ("[::1]:5000/mini", "[::1]:5000", "[::1]:5000", "mini", "http"),
      ("[0:0:0:0:0:0:0:1]:5000/mini", "[0:0:0:0:0:0:0:1]:5000", "[0:0:0:0:0:0:0:1]:5000", "mini", "http"),
      ("127.0.0.1.example.com/team/mini", "127.0.0.1.example.com", "127.0.0.1.example.com", "team/mini", "https"),
      ("127.0.0.256:5000/mini", "127.0.0.256:5000", "127.0.0.256:5000", "mini", "https"),
      ("localhost.example.com/mini", "localhost.example.com", "localhost.example.com", "mini", "https"),
      ("[::2]:5000/mini", "[::2]:5000", "[::2]:5000", "mini", "https"),
    ])
  func names(name: String, registry: String, host: String, path: String, scheme: String) {
    let repository = RegistryRepository(name)
    #expect(repository.registry == registry)
    #expect(repository.apiHost == host)
    #expect(repository.path == path)
    #expect(repository.scheme == scheme)
  }
}
