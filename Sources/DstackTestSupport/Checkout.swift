import Foundation

/// Paths in this checkout, for tests that use its scripts, images and fixtures.
public enum Checkout {
  /// The repository root.
  public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

  /// The mini image's scripts (`images/mini/scripts`).
  public static var miniScripts: String { root + "/images/mini/scripts" }
}
