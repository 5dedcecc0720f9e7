#define _GNU_SOURCE
#include "CSystemShims.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t forward_pid = 0;
/* Whether stop signals go on to the running child; not for a step that must run to its end. */
static volatile sig_atomic_t pass_on = 1;
static volatile sig_atomic_t received_signal = 0;
/* While set, a stop signal is remembered instead of ending this process; a second one
   is ignored too (the clean-up goes on), and a third ends it at once. */
static volatile sig_atomic_t recording = 0;
static volatile sig_atomic_t repeated_requests = 0;

/* Seconds a child gets to end after a stop signal is passed on to it before it is killed,
   as `docker stop` gives a container: a command that ignores the signal cannot keep
   dstack (and the clean-up) waiting. */
#define GRACE_SECONDS 10

static const int forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define FORWARDED_COUNT (sizeof forwarded_signals / sizeof forwarded_signals[0])

static void on_alarm(int signal_number) {
  (void)signal_number;
  pid_t pid = (pid_t)forward_pid;
  if (pid > 0) kill(pid, SIGKILL);
}

static void on_signal(int signal_number, siginfo_t *info, void *context) {
  (void)context;
  if (recording && received_signal != 0) {
    /* Asked again: the clean-up goes on (its commands run in a process group of their own,
       which a terminal's Ctrl-C does not reach); a third request ends this process now,
       by this signal's default action (delivered once this handler returns). */
    if (++repeated_requests < 2) return;
    signal(signal_number, SIG_DFL);
    raise(signal_number);
    return;
  }
  /* A terminal sends SIGINT/SIGQUIT to the whole foreground group, the child included. */
  int from_terminal = info != NULL && info->si_code == SI_KERNEL;
  if (forward_pid > 0 && pass_on) {
    if (!from_terminal) kill((pid_t)forward_pid, signal_number);
    alarm(GRACE_SECONDS);
  }
  if (received_signal == 0) received_signal = signal_number;
}

static void handle_signals(int handled) {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  sigemptyset(&action.sa_mask);
  if (handled) {
    action.sa_sigaction = on_signal;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    /* A parent may have started dstack with these signals blocked (threads of many
       runtimes block them); unblock them so the user's Ctrl-C still arrives. */
    sigset_t forwarded;
    sigemptyset(&forwarded);
    for (size_t i = 0; i < FORWARDED_COUNT; i++) sigaddset(&forwarded, forwarded_signals[i]);
    pthread_sigmask(SIG_UNBLOCK, &forwarded, NULL);
  } else {
    action.sa_handler = SIG_DFL;
  }
  for (size_t i = 0; i < FORWARDED_COUNT; i++) sigaction(forwarded_signals[i], &action, NULL);
  struct sigaction alarm_action;
  memset(&alarm_action, 0, sizeof alarm_action);
  sigemptyset(&alarm_action.sa_mask);
  alarm_action.sa_handler = handled ? on_alarm : SIG_DFL;
  alarm_action.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &alarm_action, NULL);
}

void dstack_signals_record(void) {
  received_signal = 0;
  repeated_requests = 0;
  recording = 1;
  handle_signals(1);
}

int dstack_signals_stop_recording(void) {
  handle_signals(0);
  recording = 0;
  int received = received_signal;
  received_signal = 0;
  return received;
}

int dstack_signal_received(void) { return recording ? received_signal : 0; }

void dstack_forward_signals_to(pid_t pid, int pass_on_signals) {
  if (!recording) {
    received_signal = 0;
    handle_signals(1);
  }
  pass_on = pass_on_signals;
  forward_pid = pid;
}

int dstack_stop_forwarding_to(pid_t pid) {
  if (forward_pid != pid) return 0;
  forward_pid = 0;
  alarm(0);
  if (recording) return 0;
  handle_signals(0);
  int received = received_signal;
  received_signal = 0;
  return received;
}

int dstack_spawn_add_chdir(posix_spawn_file_actions_t *actions, const char *path) {
  return posix_spawn_file_actions_addchdir_np(actions, path);
}

int dstack_spawn_add_close_from(posix_spawn_file_actions_t *actions, int lowest) {
  return posix_spawn_file_actions_addclosefrom_np(actions, lowest);
}

int dstack_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
