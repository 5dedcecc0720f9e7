import DstackTestSupport
import Foundation
import Testing

@testable import DstackEngine

@Suite("Mini cache")
struct MiniCacheTests {
  let scratch = Scratch()

  private func store(in cache: MiniCache) throws -> MiniCache.StoredEntry {
    let script = Array("print('hi')\n".utf8)
    return try cache.store(
      files: ["hello.lua": script], repository: "example.com/team/mini", tag: "24.01.01",
      imageID: Digest(of: script), manifestDigest: nil, api: 1, verification: nil)
  }

  @Test("staging folders that a killed dstack left are removed; one another dstack is writing is kept")
  func leftovers() throws {
    let cache = MiniCache(root: scratch.path("cache"))
    let old = scratch.path("cache/minis/.staging-killed")
    let recent = scratch.path("cache/minis/.staging-writing")
    for folder in [old, recent] {
      try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }
    var twoHoursAgo = [timeval(tv_sec: time(nil) - 7200, tv_usec: 0), timeval(tv_sec: time(nil) - 7200, tv_usec: 0)]
    #expect(utimes(old, &twoHoursAgo) == 0)
    _ = try store(in: cache)
    #expect(!FileManager.default.fileExists(atPath: old), "a stale staging folder was left")
    #expect(FileManager.default.fileExists(atPath: recent), "a staging folder in use was removed")
  }

  @Test("an entry is found whole; a file added, removed or changed makes it damaged, and it is removed")
  func damagedEntries() throws {
    let cache = MiniCache(root: scratch.path("damage"))
    let files: [String: [UInt8]] = ["run.lua": Array("return 0\n".utf8), "lib/a/b.lua": Array("return {}\n".utf8)]
    let id = Digest(of: Array("damage".utf8))
    func stored() throws -> String {
      try cache.store(
        files: files, repository: "r", tag: "24.01.01", imageID: id, manifestDigest: nil, api: 1, verification: nil
      ).scriptsDirectory
    }
    let damages: [(String, (String) throws -> Void)] = [
      ("files were added or removed", { try Data("x".utf8).write(to: URL(fileURLWithPath: $0 + "/lib/extra.lua")) }),
      ("files were added or removed", { try FileManager.default.removeItem(atPath: $0 + "/lib/a/b.lua") }),
      (
        "lib/a/b.lua does not match its digest",
        { try Data("return 1\n".utf8).write(to: URL(fileURLWithPath: $0 + "/lib/a/b.lua")) }
      ),
    ]
    for (reason, damage) in damages {
      let scripts = try stored()
      guard case .found = cache.entry(imageID: id) else {
        Issue.record("a whole entry was not found")
        return
      }
      try damage(scripts)
      guard case .corrupted(let found) = cache.entry(imageID: id) else {
        Issue.record("not noticed: \(reason)")
        continue
      }
      #expect(found == reason)
      #expect(!FileManager.default.fileExists(atPath: scripts))
    }
  }

  @Test("a folder's regular files: nested, sorted, a link to a file counted, a link to a folder not walked")
  func regularFiles() throws {
    try scratch.write("walk/b.lua", "b")
    try scratch.write("walk/lib/x/y.lua", "y")
    try scratch.write("outside/secret.lua", "s")
    try FileManager.default.createSymbolicLink(
      atPath: scratch.path("walk/link.lua"), withDestinationPath: scratch.path("walk/b.lua"))
    try FileManager.default.createSymbolicLink(
      atPath: scratch.path("walk/dir"), withDestinationPath: scratch.path("outside"))
    try FileManager.default.createSymbolicLink(
      atPath: scratch.path("walk/dangling"), withDestinationPath: scratch.path("none"))
    #expect(Paths.regularFiles(under: scratch.path("walk")) == ["b.lua", "lib/x/y.lua", "link.lua"])
    #expect(Paths.regularFiles(under: scratch.path("missing")) == [])
    #expect(Paths.contents(of: scratch.path("walk/lib/x/y.lua")) == Array("y".utf8))
    #expect(Paths.contents(of: scratch.path("walk/lib")) == nil)
  }

  @Test("a cache folder that cannot be written is named, with the reason in words and what to do")
  func unwritable() throws {
    try scratch.write("not-a-folder", "a file where the cache should be")
    let cache = MiniCache(root: scratch.path("not-a-folder/cache"))
    #expect {
      try store(in: cache)
    } throws: { error in
      let text = String(describing: error)
      return text.contains("not-a-folder/cache/minis (not a directory)") && text.contains("set DSTACK_CACHE_DIR")
    }
  }
}

@Suite("Remembered look-ups and the clock")
struct LookupFreshnessTests {
  @Test("a look-up is used for its lifetime, and never when it is dated ahead of the clock")
  func freshness() {
    let now = Date()
    #expect(LookupPolicy.isFresh(madeAt: now - 30, lifetime: LookupPolicy.lifetime, now: now))
    #expect(!LookupPolicy.isFresh(madeAt: now - 601, lifetime: LookupPolicy.lifetime, now: now))
    #expect(LookupPolicy.isFresh(madeAt: now + 10, lifetime: LookupPolicy.lifetime, now: now), "a little skew is fine")
    #expect(
      !LookupPolicy.isFresh(madeAt: now + 365 * 86400, lifetime: LookupPolicy.lifetime, now: now),
      "made while the clock was a year ahead")
  }
}
