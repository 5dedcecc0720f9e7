import Foundation

/// Paths in this checkout, for tests that use its scripts, images and fixtures.
package enum Checkout {
  /// The repository root.
  package static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

  /// The mini image's scripts (`images/mini/scripts`).
  package static var miniScripts: String { root + "/images/mini/scripts" }
}
