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
static volatile sig_atomic_t received_signal = 0;

static void forward_signal(int signal_number, siginfo_t *info, void *context) {
  (void)context;
  received_signal = signal_number;
  /* A terminal sends SIGINT/SIGQUIT to the whole foreground group, the child included. */
  int from_terminal = info != NULL && info->si_code == SI_KERNEL;
  if (forward_pid > 0 && !from_terminal) kill((pid_t)forward_pid, signal_number);
}

static const int forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define FORWARDED_COUNT (sizeof forwarded_signals / sizeof forwarded_signals[0])

void dstack_forward_signals_to(pid_t pid) {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  sigemptyset(&action.sa_mask);
  action.sa_sigaction = forward_signal;
  action.sa_flags = SA_SIGINFO | SA_RESTART;
  /* A parent may have started dstack with these signals blocked (threads of many
     runtimes block them); unblock them so the user's Ctrl-C still arrives. */
  sigset_t forwarded;
  sigemptyset(&forwarded);
  for (size_t i = 0; i < FORWARDED_COUNT; i++) sigaddset(&forwarded, forwarded_signals[i]);
  pthread_sigmask(SIG_UNBLOCK, &forwarded, NULL);
  received_signal = 0;
  forward_pid = pid;
  for (size_t i = 0; i < FORWARDED_COUNT; i++) sigaction(forwarded_signals[i], &action, NULL);
}

int dstack_stop_forwarding_to(pid_t pid) {
  if (forward_pid != pid) return 0;
  struct sigaction action;
  memset(&action, 0, sizeof action);
  sigemptyset(&action.sa_mask);
  action.sa_handler = SIG_DFL;
  for (size_t i = 0; i < FORWARDED_COUNT; i++) sigaction(forwarded_signals[i], &action, NULL);
  forward_pid = 0;
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
