import DstackEngine
import DstackLua

/// `dstack.version`: the sortable date and datetime tags.
enum VersionAPI {
  static var namespace: APINamespace {
    APINamespace(
      name: "version",
      summary: """
        Sortable image versions: dates `YY.MM.DD` and datetimes `YYYYMMDD-HHMMSS`, both UTC. \
        Both schemes sort on one chronological key (a date is the start of its day); other tags \
        (`latest`, `dev`, `sha256-….sig`) are not versions and are never ranked.
        """,
      members: [
        .function("date() -> string", "Today's date version, such as `26.11.29` (UTC).") { _ in
          [.text(ImageVersion.date())]
        },
        .function("datetime() -> string", "The current datetime version, such as `20261129-063000` (UTC).") { _ in
          [.text(ImageVersion.datetime())]
        },
        .function(
          "parse(tag) -> table | nil",
          "`{text, scheme, year, month, day, hour, minute, second}` (scheme is `date` or `datetime`), or nil when `tag` is not a version."
        ) { arguments in
          guard let version = ImageVersion(try arguments.string(1)) else { return [.nil] }
          return [
            [
              "text": .text(version.text), "scheme": .text(version.scheme.rawValue),
              "year": .integer(Int64(version.year)), "month": .integer(Int64(version.month)),
              "day": .integer(Int64(version.day)), "hour": .integer(Int64(version.hour)),
              "minute": .integer(Int64(version.minute)), "second": .integer(Int64(version.second)),
            ]
          ]
        },
        .function(
          "compare(a, b) -> integer",
          "-1, 0 or 1 as version `a` is older than, the same as, or newer than `b`; raises if either is not a version."
        ) { arguments in
          let versions = try [1, 2].map { position in
            guard let version = ImageVersion(try arguments.string(position)) else {
              throw arguments.bad(position, "'\(arguments[position].textValue ?? "")' is not a version")
            }
            return version
          }
          return [.integer(versions[0] < versions[1] ? -1 : versions[0] == versions[1] ? 0 : 1)]
        },
        .function(
          "newest(tags) -> string | nil",
          "The newest version in the list `tags`, ignoring tags that are not versions; nil when there is none."
        ) { arguments in
          [ImageVersion.newest(try arguments.stringList(1)).map { .text($0.text) } ?? .nil]
        },
        .function(
          "sort(tags) -> list",
          "The versions in the list `tags`, newest first, without the tags that are not versions (and without repeats)."
        ) { arguments in
          let versions = Set(try arguments.stringList(1).compactMap(ImageVersion.init)).sorted(by: >)
          return [.list(versions.map(\.text))]
        },
      ])
  }
}
