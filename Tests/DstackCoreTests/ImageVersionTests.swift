import DstackEngine
import DstackHost
import DstackLua
import Foundation
import PropertyBased
import Testing

/// Seconds from 2000-01-01 to 2099-12-31 (UTC): the range both schemes can express.
private let instants = Gen.int(in: 946_684_800...4_102_444_799)
private let schemes = Gen.bool

/// A tag for `seconds` in the chosen scheme, and the instant it stands for.
private func tag(_ seconds: Int, datetime: Bool) -> (tag: String, instant: Int) {
  datetime
    ? (ImageVersion.datetime(at: seconds), seconds) : (ImageVersion.date(at: seconds), seconds - seconds % 86_400)
}

@Suite("Image versions")
struct ImageVersionTests {
  @Test("parses both schemes into calendar fields")
  func parsesBothSchemes() throws {
    let date = try #require(ImageVersion("21.04.25"))
    #expect(date.scheme == .date)
    #expect([date.year, date.month, date.day, date.hour] == [2021, 4, 25, 0] as [Int])
    let datetime = try #require(ImageVersion("20210425-233226"))
    #expect(datetime.scheme == .datetime)
    #expect(
      [datetime.year, datetime.month, datetime.day, datetime.hour, datetime.minute, datetime.second]
        == [2021, 4, 25, 23, 32, 26] as [Int])
  }

  @Test(
    "rejects tags that are not versions",
    arguments: [
      "latest", "dev", "main", "", "1.2.3", "21.4.25", "21.04.250", "2021.04.25", "21.13.01", "21.02.30",
      "23.02.29", "20210425T233226Z", "20210425-246000", "20210431-000000", "20210425-23322", "sha256-abc.sig",
      "２１.04.25", "21.04.25 ", "-21.04.25", "21-04-25",
    ])
  func rejectsNonVersions(tag: String) {
    #expect(ImageVersion(tag) == nil)
  }

  @Test("accepts 29 February only in leap years")
  func leapDays() {
    #expect(ImageVersion("24.02.29") != nil)
    #expect(ImageVersion("20000229-000000") != nil)
    #expect(ImageVersion("21.02.29") == nil)
  }

  @Test("formats the current UTC time")
  func formatsUTC() {
    // 2021-04-25 23:32:26 UTC
    #expect(ImageVersion.date(at: 1_619_393_546) == "21.04.25")
    #expect(ImageVersion.datetime(at: 1_619_393_546) == "20210425-233226")
  }

  @Test("a formatted version parses back to the same instant")
  func roundTrip() async {
    await propertyCheck(count: 500, input: instants, schemes) { seconds, datetime in
      let (text, instant) = tag(seconds, datetime: datetime)
      let version = ImageVersion(text)
      #expect(version?.text == text)
      var clock = time_t(instant)
      var parts = tm()
      gmtime_r(&clock, &parts)
      #expect(version?.year == Int(parts.tm_year) + 1900)
      #expect(version?.month == Int(parts.tm_mon) + 1)
      #expect(version?.day == Int(parts.tm_mday))
      #expect(version?.hour == Int(parts.tm_hour))
      #expect(version?.second == Int(parts.tm_sec))
    }
  }

  @Test("the order of parsed versions is the chronological order, in both schemes and mixed")
  func chronologicalOrder() async {
    await propertyCheck(count: 1000, input: instants, schemes, instants, schemes) {
      first, firstIsDatetime, second, secondIsDatetime in
      let a = tag(first, datetime: firstIsDatetime)
      let b = tag(second, datetime: secondIsDatetime)
      guard let versionA = ImageVersion(a.tag), let versionB = ImageVersion(b.tag) else {
        Issue.record("\(a.tag) or \(b.tag) did not parse")
        return
      }
      // At the same instant a date (start of day) sorts before a datetime.
      let expectedOlder = a.instant < b.instant || (a.instant == b.instant && !firstIsDatetime && secondIsDatetime)
      #expect((versionA < versionB) == expectedOlder, "\(a.tag) vs \(b.tag)")
      #expect((versionA == versionB) == (a.tag == b.tag))
    }
  }

  @Test("lexical order of same-scheme tags agrees with chronological order")
  func lexicalAgreesWithinScheme() async {
    await propertyCheck(count: 500, input: instants, instants, schemes) { first, second, datetime in
      let a = tag(first, datetime: datetime).tag
      let b = tag(second, datetime: datetime).tag
      #expect((ImageVersion(a)! < ImageVersion(b)!) == (a < b))
    }
  }

  @Test("newest picks the newest version and never a tag that is not one")
  func latestIgnoresOtherTags() async {
    let junk = ["latest", "dev", "main", "sha256-0123abcd.sig", "1.2.3", "99.99.99", "zzz", "21.13.40"]
    await propertyCheck(
      count: 300, input: instants.array(of: 0...8), schemes, Gen.int(in: 0...(junk.count - 1)).array(of: 0...4)
    ) { seconds, datetime, junkPicks in
      let versions = seconds.enumerated().map { tag($1, datetime: datetime != ($0 % 2 == 0)) }
      let tags = (versions.map(\.tag) + junkPicks.map { junk[$0] }).shuffled()
      let newest = ImageVersion.newest(tags)
      #expect(newest == versions.compactMap { ImageVersion($0.tag) }.max())
      if let newest { #expect(!junk.contains(newest.text)) }
    }
  }

  @Test("arbitrary text never crashes the parser and parses only in the two shapes")
  func arbitraryText() async {
    await propertyCheck(count: 1000, input: Gen.character(in: "-"..."9").string(of: 0...16)) { text in
      guard let version = ImageVersion(text) else { return }
      #expect(text.count == 8 || text.count == 15)
      #expect(version.text == text)
    }
  }
}
