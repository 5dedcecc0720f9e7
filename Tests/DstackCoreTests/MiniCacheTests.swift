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
