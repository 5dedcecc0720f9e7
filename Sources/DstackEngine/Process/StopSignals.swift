import CSystemShims

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The signals that ask dstack to stop: SIGINT (Ctrl-C), SIGTERM, SIGHUP and SIGQUIT.
///
/// By default one ends dstack at once (after the child it runs, which gets it too). While
/// a script runs, they are recorded instead: the running child still gets the signal, the
/// script is told (its step raises an error and no new step starts), its clean-up runs,
/// and then dstack ends by the same signal (`end(by:)`). A second signal while cleaning
/// up ends dstack at once.
package enum StopSignals {
  /// Runs `body` with stop signals recorded; returns its result and the first signal
  /// received meanwhile, if any. Default handling is back when it returns.
  package static func recording<Value>(_ body: () -> Value) -> (result: Value, signal: Int32?) {
    dstack_signals_record()
    let result = body()
    let signal = dstack_signals_stop_recording()
    return (result, signal == 0 ? nil : signal)
  }

  /// The stop signal received while recording, or nil.
  package static var received: Int32? {
    let signal = dstack_signal_received()
    return signal == 0 ? nil : signal
  }

  /// Ends this process by `signal`'s default action, as if it had just arrived, so the
  /// parent sees the signal (a shell shows 130 for SIGINT).
  package static func end(by number: Int32) -> Never {
    fflush(nil)
    signal(number, SIG_DFL)
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, number)
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
    raise(number)
    exit(128 + number)
  }

  /// How a person knows `signal`: "Ctrl-C (SIGINT)", "SIGTERM".
  package static func name(of signal: Int32) -> String {
    switch signal {
    case SIGINT: "Ctrl-C (SIGINT)"
    case SIGTERM: "SIGTERM"
    case SIGHUP: "SIGHUP (the terminal closed)"
    case SIGQUIT: "SIGQUIT"
    default: "signal \(signal)"
    }
  }
}
