#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A sortable image version tag, in one of the two schemes dstack writes:
/// a date `YY.MM.DD` (for base and utility images, such as mini) or a datetime
/// `YYYYMMDD-HHMMSS` (for project images), both UTC.
///
/// Both schemes sort on one chronological key, so a list mixing them orders by time;
/// a date stands for the start of its day. Any other tag (`latest`, `dev`,
/// `sha256-….sig`, `1.2.3`) is not a version and is never ranked.
package struct ImageVersion: Hashable, Comparable, Sendable, CustomStringConvertible {
  package enum Scheme: String, Sendable {
    case date
    case datetime
  }

  /// The tag as written.
  package let text: String
  package let scheme: Scheme
  package let year: Int
  package let month: Int
  package let day: Int
  package let hour: Int
  package let minute: Int
  package let second: Int

  package var description: String { text }

  /// The chronological key `YYYYMMDDhhmmss` as one integer.
  package var key: Int64 {
    let date = Int64(year) * 10_000 + Int64(month) * 100 + Int64(day)
    return date * 1_000_000 + Int64(hour) * 10_000 + Int64(minute) * 100 + Int64(second)
  }

  /// Parses a tag; nil when it is not a valid date or datetime version.
  package init?(_ text: String) {
    let digits = Array(text.utf8)
    func number(_ range: Range<Int>) -> Int? {
      var value = 0
      for index in range {
        guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digits[index]) else { return nil }
        value = value * 10 + Int(digits[index] - UInt8(ascii: "0"))
      }
      return value
    }
    if digits.count == 8, digits[2] == UInt8(ascii: "."), digits[5] == UInt8(ascii: "."),
      let year = number(0..<2), let month = number(3..<5), let day = number(6..<8)
    {
      self.init(text: text, scheme: .date, year: 2000 + year, month: month, day: day)
    } else if digits.count == 15, digits[8] == UInt8(ascii: "-"),
      let year = number(0..<4), let month = number(4..<6), let day = number(6..<8),
      let hour = number(9..<11), let minute = number(11..<13), let second = number(13..<15)
    {
      self.init(
        text: text, scheme: .datetime, year: year, month: month, day: day,
        hour: hour, minute: minute, second: second)
    } else {
      return nil
    }
  }

  private init?(
    text: String, scheme: Scheme, year: Int, month: Int, day: Int,
    hour: Int = 0, minute: Int = 0, second: Int = 0
  ) {
    guard (1...12).contains(month), (1...Self.daysIn(month: month, year: year)).contains(day),
      (0...23).contains(hour), (0...59).contains(minute), (0...59).contains(second)
    else { return nil }
    (self.text, self.scheme, self.year, self.month, self.day) = (text, scheme, year, month, day)
    (self.hour, self.minute, self.second) = (hour, minute, second)
  }

  private static func daysIn(month: Int, year: Int) -> Int {
    switch month {
    case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
    case 4, 6, 9, 11: 30
    default: 31
    }
  }

  /// Chronological order; at the same instant a date sorts before a datetime, and
  /// equal versions are ordered by text so the order is total.
  package static func < (lhs: ImageVersion, rhs: ImageVersion) -> Bool {
    if lhs.key != rhs.key { return lhs.key < rhs.key }
    if lhs.scheme != rhs.scheme { return lhs.scheme == .date }
    return lhs.text < rhs.text
  }

  /// The newest version among `tags`, ignoring tags that are not versions.
  package static func newest(_ tags: some Sequence<String>) -> ImageVersion? {
    tags.compactMap(ImageVersion.init).max()
  }

  /// Today's date version, `YY.MM.DD` (UTC).
  package static func date(at seconds: Int = Int(time(nil))) -> String {
    let utc = Self.utc(seconds)
    return String(format2: utc.tm_year % 100) + "." + String(format2: utc.tm_mon + 1) + "."
      + String(format2: utc.tm_mday)
  }

  /// The current datetime version, `YYYYMMDD-HHMMSS` (UTC).
  package static func datetime(at seconds: Int = Int(time(nil))) -> String {
    let utc = Self.utc(seconds)
    return String(utc.tm_year + 1900) + String(format2: utc.tm_mon + 1) + String(format2: utc.tm_mday)
      + "-" + String(format2: utc.tm_hour) + String(format2: utc.tm_min) + String(format2: utc.tm_sec)
  }

  private static func utc(_ seconds: Int) -> tm {
    var clock = time_t(seconds)
    var parts = tm()
    gmtime_r(&clock, &parts)
    return parts
  }
}

extension String {
  /// Two digits, zero-padded.
  fileprivate init(format2 value: Int32) {
    self = value < 10 ? "0\(value)" : "\(value)"
  }
}
