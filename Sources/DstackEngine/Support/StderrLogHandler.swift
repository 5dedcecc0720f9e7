import FoundationEssentials
import Logging

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Writes log messages to standard error as `dstack: warning: message`, coloured by
/// level only when standard error is a terminal (and `NO_COLOR` is unset).
package struct StderrLogHandler: LogHandler {
  package var logLevel: Logger.Level
  package var metadata: Logger.Metadata = [:]
  private let useColour: Bool

  package init(level: Logger.Level, useColour: Bool) {
    self.logLevel = level
    self.useColour = useColour
  }

  /// True when standard error is a terminal and `environment` does not ask for no colour.
  package static func colourful(in environment: HostEnvironment) -> Bool {
    isatty(STDERR_FILENO) == 1 && environment.allowsColour
  }

  package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  package func log(event: LogEvent) {
    let (label, colour): (String, String) =
      switch event.level {
      case .trace, .debug: ("debug: ", "2")
      case .info, .notice: ("", "")
      case .warning: ("warning: ", "33")
      case .error, .critical: ("error: ", "31")
      }
    let prefix = useColour && !colour.isEmpty ? "\u{1B}[\(colour)m\(label)\u{1B}[0m" : label
    StandardError.emit("dstack: \(prefix)\(event.message)\n")
  }
}

/// The process's standard error, written without buffering.
package enum StandardError {
  package static func emit(_ text: String) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
      let written = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
      if written < 0 && errno == EINTR { continue }
      if written <= 0 { return }
      bytes = bytes.dropFirst(written)
    }
  }
}
