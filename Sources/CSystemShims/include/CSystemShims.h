// C helpers for what Swift cannot do or import: signal forwarding and the GNU
// extensions process spawning needs.
#ifndef CSYSTEMSHIMS_H
#define CSYSTEMSHIMS_H

#include <spawn.h>
#include <sys/types.h>

/// Sends SIGINT/SIGTERM/SIGHUP/SIGQUIT received by this process to `pid` (a child
/// in the same terminal session is not sent a signal the terminal already sent it); a
/// child still running 10 seconds after one is killed (SIGKILL), as `docker stop` does.
/// With `pass_on_signals` 0 the signals are only remembered: the child runs to its end.
void dstack_forward_signals_to(pid_t pid, int pass_on_signals);
/// Stops forwarding to `pid` (when it is still the one signals go to); outside
/// recording, restores the default handlers and returns the signal received while
/// forwarding, or 0 (always 0 while recording: the recording keeps it).
int dstack_stop_forwarding_to(pid_t pid);

/// From now on, the first SIGINT/SIGTERM/SIGHUP/SIGQUIT is remembered (and passed on to
/// a running child) instead of ending this process; a second one is ignored, so the
/// clean-up goes on, and a third ends it at once.
void dstack_signals_record(void);
/// The signal remembered since `dstack_signals_record`, or 0.
int dstack_signal_received(void);
/// Ends the recording, restores the default handlers and returns the signal remembered, or 0.
int dstack_signals_stop_recording(void);

/// `posix_spawn_file_actions_addchdir_np` (glibc 2.29+): the child starts in `path`.
int dstack_spawn_add_chdir(posix_spawn_file_actions_t *actions, const char *path);

/// `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34+): the child closes every
/// descriptor from `lowest` up, after the other file actions.
int dstack_spawn_add_close_from(posix_spawn_file_actions_t *actions, int lowest);
/// `pipe2(fds, O_CLOEXEC)`: a pipe whose ends other children do not inherit.
int dstack_pipe_cloexec(int fds[2]);

#endif
