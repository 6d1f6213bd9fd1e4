/*
 * kvm-exec: the host side of a stage1-kvm pod (stage1-kvm/README.md "On the host"). run.cjs execs us, so
 * the PID `rkt run` started with stays the pod's and no Node process stays behind.
 *
 *   kvm-exec --lock-fd N --boot-timeout MS --console-log FILE --status-dir DIR [--app NAME]...
 *            [--netns FILE] [--interactive] [--notify-apps] [--timeout-hint TEXT] [--debug] -- QEMU [ARGS...]
 *
 * We keep the pod lock (close-on-exec: QEMU never holds it), make three socket pairs and start QEMU with
 * their other ends as fds 3 (hvc0: the pod's stdout, and stdin when interactive), 4 (hvc1: stderr) and
 * 5 (the org.rkt.ctl port), in the pod's network namespace (--netns: QEMU opens the pod's taps there),
 * dying with us (PR_SET_PDEATHSIG). Then we relay: hvc0 to our stdout, hvc1 to our stderr, our stdin to
 * hvc0 when --interactive (a terminal is put in raw mode, its size sent as "winsize ROWS COLS" at the boot
 * and on every SIGWINCH, and ^] typed three times within a second kills QEMU: the apps get 137).
 * --debug times the VM's milestones on stderr.
 *
 * The guest's init says "booted" on the ctl port, or we kill QEMU after --boot-timeout and fail (254)
 * with --timeout-hint and the end of the console log: a guest that never starts is never left running.
 * With NOTIFY_SOCKET (systemd started `rkt run` as a Type=notify unit; we are its main process, so
 * NotifyAccess=main suffices) we send READY=1 there: when the guest says "ready" (its supervisor's READY=1: every
 * app that speaks systemd's notify protocol is ready) with --notify-apps, else once the guest has booted.
 * SIGTERM, SIGINT or SIGHUP become "term" on the ctl port (the guest's supervisor stops the apps, as
 * `rkt stop` expects); before "booted", QEMU is killed. The guest's "exit N" is the pod's exit code: the
 * guest reboots, QEMU exits, we drain the consoles and exit N. If QEMU ends without a report after the
 * guest booted — killed by signal S (`rkt stop --force`), or while we were stopping it — each app without
 * a status file gets 128+S (or 143), and so does our exit. Any other end (QEMU failing to start, crashing
 * before the guest booted, a guest that dies) is an error (254) showing the console log.
 */
#define _GNU_SOURCE
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define EXIT_INTERNAL 254

static struct termios saved_tty;
static int tty_raw;

static void restore_tty(void) {
  if (tty_raw) tcsetattr(0, TCSANOW, &saved_tty), tty_raw = 0;
}

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...) {
  restore_tty();
  va_list ap;
  va_start(ap, fmt);
  fputs("kvm-exec: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(EXIT_INTERNAL);
}

static long long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}


/* The last lines of the guest's console log, for a failure's message. */
static void show_console(const char *file) {
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char buf[4096];
  off_t size = lseek(fd, 0, SEEK_END), from = size > (off_t)sizeof buf - 1 ? size - (off_t)sizeof buf + 1 : 0;
  ssize_t n = pread(fd, buf, sizeof buf - 1, from);
  close(fd);
  if (n <= 0) return;
  buf[n] = '\0';
  char *start = buf;
  for (int lines = 0, i = (int)n - 1; i >= 0; i--)
    if (buf[i] == '\n' && ++lines > 20) {
      start = buf + i + 1;
      break;
    }
  fprintf(stderr, "kvm-exec: the end of the guest's console log (%s):\n%s%s", file, start, buf[n - 1] == '\n' ? "" : "\n");
}

/* Writes DIR/APP = code for each app without a status: what they ended with when the guest could not say. */
static void write_statuses(const char *dir, char **apps, int napps, int code) {
  for (int i = 0; i < napps; i++) {
    char path[4096], tmp[4096], text[16];
    snprintf(path, sizeof path, "%s/%s", dir, apps[i]);
    if (access(path, F_OK) == 0) continue;
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, apps[i]);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    int n = snprintf(text, sizeof text, "%d", code);
    if (fd < 0 || write_all(fd, text, n) < 0 || close(fd) < 0 || rename(tmp, path) < 0)
      fprintf(stderr, "kvm-exec: can't write %s: %s\n", path, strerror(errno));
  }
}

/* READY=1 to systemd's NOTIFY_SOCKET: a path, or an abstract name written with a leading '@'. */
static void notify_ready(void) {
  const char *name = getenv("NOTIFY_SOCKET");
  if (!name || !*name) return;
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  size_t n = strlen(name);
  if ((name[0] != '/' && name[0] != '@') || n >= sizeof a.sun_path) {
    fprintf(stderr, "kvm-exec: NOTIFY_SOCKET=%s is not a unix socket's path: the pod's readiness is not reported\n", name);
    return;
  }
  memcpy(a.sun_path, name, n);
  if (name[0] == '@') a.sun_path[0] = '\0';
  int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0 || sendto(s, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *)&a, offsetof(struct sockaddr_un, sun_path) + n) < 0)
    fprintf(stderr, "kvm-exec: can't send READY=1 to NOTIFY_SOCKET=%s: %s\n", name, strerror(errno));
  if (s >= 0) close(s);
}

static void send_winsize(int ctl) {
  struct winsize ws;
  char line[64];
  if (ioctl(0, TIOCGWINSZ, &ws) < 0) return;
  int n = snprintf(line, sizeof line, "winsize %u %u\n", ws.ws_row, ws.ws_col);
  write_all(ctl, line, n);
}

/* ^] three times in a row within a second on the terminal (systemd-nspawn's way out, kept for kvm pods): the
 * user ends the pod. Other bytes between them start the count again. */
static int escape_typed(const char *buf, ssize_t n) {
  static int count;
  static long long first;
  for (ssize_t i = 0; i < n; i++) {
    if (buf[i] != 0x1d) {
      count = 0;
      continue;
    }
    long long t = now_ms();
    if (count == 0 || t - first > 1000) first = t, count = 0;
    if (++count == 3) return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  long lock_fd = -1, boot_timeout = 30000;
  const char *console_log = NULL, *status_dir = NULL, *netns = NULL, *hint = "";
  char *apps[256];
  int napps = 0, interactive = 0, debug = 0, notify_apps = 0, i;
  for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
    const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(k, "--interactive")) { interactive = 1; continue; }
    if (!strcmp(k, "--debug")) { debug = 1; continue; }
    if (!strcmp(k, "--notify-apps")) { notify_apps = 1; continue; }
    if (!v) die("%s needs a value", k);
    i++;
    if (!strcmp(k, "--lock-fd")) lock_fd = atol(v);
    else if (!strcmp(k, "--boot-timeout")) boot_timeout = atol(v);
    else if (!strcmp(k, "--console-log")) console_log = v;
    else if (!strcmp(k, "--status-dir")) status_dir = v;
    else if (!strcmp(k, "--netns")) netns = v;
    else if (!strcmp(k, "--timeout-hint")) hint = v;
    else if (!strcmp(k, "--app") && napps < 256) apps[napps++] = (char *)v;
    else die("unknown option %s", k);
  }
  if (i + 1 >= argc || !console_log || !status_dir || boot_timeout <= 0)
    die("usage: kvm-exec --lock-fd N --boot-timeout MS --console-log FILE --status-dir DIR [--app NAME]... "
        "[--netns FILE] [--interactive] [--notify-apps] [--timeout-hint TEXT] -- QEMU [ARGS...]");
  char **qemu = argv + i + 1;
  if (lock_fd >= 0) fcntl(lock_fd, F_SETFD, FD_CLOEXEC);

  int con[2], err[2], ctl[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, con) < 0 ||
      socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, err) < 0 ||
      socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) < 0)
    die("socketpair: %s", strerror(errno));
  int ns = netns ? open(netns, O_RDONLY | O_CLOEXEC) : -1;
  if (netns && ns < 0) die("can't open the pod's network namespace %s: %s", netns, strerror(errno));

  sigset_t set;
  sigemptyset(&set);
  int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGWINCH, SIGQUIT};
  for (size_t k = 0; k < sizeof sigs / sizeof *sigs; k++) sigaddset(&set, sigs[k]);
  sigprocmask(SIG_BLOCK, &set, NULL);
  int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);

  pid_t parent = getpid(), vm = fork();
  if (vm < 0) die("fork: %s", strerror(errno));
  if (vm == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(EXIT_INTERNAL);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    unsetenv("NOTIFY_SOCKET"); /* ours to answer, not QEMU's */
    if (ns >= 0 && setns(ns, CLONE_NEWNET) < 0) die("can't join the pod's network namespace: %s", strerror(errno));
    /* QEMU's ends at 3, 4, 5 (dup2 clears close-on-exec); ours and everything else stay close-on-exec. */
    int mine[3] = {fcntl(con[1], F_DUPFD_CLOEXEC, 10), fcntl(err[1], F_DUPFD_CLOEXEC, 10), fcntl(ctl[1], F_DUPFD_CLOEXEC, 10)};
    for (int k = 0; k < 3; k++)
      if (mine[k] < 0 || dup2(mine[k], 3 + k) < 0) die("dup2: %s", strerror(errno));
    execvp(qemu[0], qemu);
    die("can't run %s: %s", qemu[0], strerror(errno));
  }
  close(con[1]), close(err[1]), close(ctl[1]);
  if (ns >= 0) close(ns);
  /* A closed stdout (rkt run | head) or a QEMU gone mid-write must not kill us: the pod goes on. */
  signal(SIGPIPE, SIG_IGN);
  int in_con = con[0], out_fd[2] = {con[0], err[0]};
  fcntl(ctl[0], F_SETFL, O_NONBLOCK);

  int use_stdin = interactive;
  if (interactive && isatty(0) && tcgetattr(0, &saved_tty) == 0) {
    struct termios raw = saved_tty;
    cfmakeraw(&raw);
    if (tcsetattr(0, TCSANOW, &raw) == 0) tty_raw = 1, atexit(restore_tty);
  }

  long long started = now_ms(), deadline = started + boot_timeout;
#define TRACE(what) \
  do { \
    if (debug) fprintf(stderr, "kvm-exec: +%lld ms: %s\n", now_ms() - started, what); \
  } while (0)
  TRACE("QEMU started");
  int booted = 0, reported = -1, terminated = 0, vm_status = -1, killed_by_us = 0, ctl_open = 1, escaped = 0;
  char line[128];
  size_t linelen = 0;
  char buf[65536];
  long long vm_exit_deadline = 0;
  while (vm_status < 0 || out_fd[0] >= 0 || out_fd[1] >= 0) {
    int timeout = -1;
    if (vm_status < 0 && !booted) timeout = (int)(deadline - now_ms() > 0 ? deadline - now_ms() : 0);
    if (vm_status < 0 && reported >= 0) timeout = (int)(vm_exit_deadline - now_ms() > 0 ? vm_exit_deadline - now_ms() : 0);
    if (vm_status >= 0) timeout = 2000; /* QEMU is gone: what is left in the sockets, then its EOF */
    struct pollfd p[5] = {{sfd, POLLIN, 0}, {ctl_open ? ctl[0] : -1, POLLIN, 0}, {out_fd[0], POLLIN, 0}, {out_fd[1], POLLIN, 0},
                          {use_stdin && vm_status < 0 ? 0 : -1, POLLIN, 0}};
    int r = poll(p, 5, timeout);
    if (r < 0 && errno != EINTR) die("poll: %s", strerror(errno));
    if (r == 0) {
      if (vm_status >= 0) break; /* a console never closed: give up on it */
      if (!booted) {
        kill(vm, SIGKILL), killed_by_us = 1;
        while (waitpid(vm, NULL, 0) < 0 && errno == EINTR) {
        }
        restore_tty();
        fprintf(stderr, "kvm-exec: the guest did not start within %.1f s%s%s\n", boot_timeout / 1000.0, *hint ? ": " : "", hint);
        show_console(console_log);
        return EXIT_INTERNAL;
      }
      kill(vm, SIGKILL), killed_by_us = 1; /* reported, but did not end: enough */
    }
    if (p[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si) {
        int s = (int)si.ssi_signo;
        if (s == SIGWINCH && tty_raw) send_winsize(ctl[0]);
        if (s == SIGTERM || s == SIGINT || s == SIGHUP || s == SIGQUIT) {
          terminated = 1;
          if (booted) write_all(ctl[0], "term\n", 5);
          else kill(vm, SIGKILL), killed_by_us = 1;
        }
      }
      int status;
      if (vm_status < 0 && waitpid(vm, &status, WNOHANG) == vm) {
        vm_status = status;
        TRACE("QEMU exited");
      }
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(ctl[0], line + linelen, sizeof line - 1 - linelen);
      if (n > 0) linelen += n;
      else if (n == 0 || (errno != EINTR && errno != EAGAIN)) ctl_open = 0; /* QEMU is gone */
      char *nl;
      while ((nl = memchr(line, '\n', linelen))) {
        *nl = '\0';
        int code;
        if (!strcmp(line, "booted")) {
          booted = 1;
          TRACE("the guest's init is up");
          if (terminated) write_all(ctl[0], "term\n", 5);
          if (tty_raw) send_winsize(ctl[0]);
          if (!notify_apps) notify_ready();
        } else if (!strcmp(line, "ready") && notify_apps) {
          TRACE("the guest's apps are ready");
          notify_ready();
        } else if (sscanf(line, "exit %d", &code) == 1 && reported < 0) {
          reported = code;
          vm_exit_deadline = now_ms() + 3000;
          TRACE("the guest reported its apps' exit");
        }
        linelen -= nl + 1 - line;
        memmove(line, nl + 1, linelen);
      }
      if (linelen == sizeof line - 1) linelen = 0;
    }
    for (int k = 0; k < 2; k++) {
      if (out_fd[k] < 0 || !(p[2 + k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(out_fd[k], buf, sizeof buf);
      if (n > 0) write_all(k == 0 ? 1 : 2, buf, n);
      else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        if (out_fd[k] != in_con) close(out_fd[k]);
        out_fd[k] = -1;
      }
    }
    if (p[4].revents & (POLLIN | POLLHUP)) {
      ssize_t n = read(0, buf, sizeof buf);
      if (n > 0) write_all(in_con, buf, n);
      else use_stdin = 0;
      if (n > 0 && tty_raw && escape_typed(buf, n)) { /* as `rkt stop --force` would: the apps get 137 */
        kill(vm, SIGKILL), escaped = 1, use_stdin = 0;
        restore_tty();
        fprintf(stderr, "\r\nkvm-exec: ^] typed three times: the pod is killed\n");
      }
    }
  }
  restore_tty();
  if (vm_status < 0) {
    int status;
    kill(vm, SIGKILL);
    while (waitpid(vm, &status, 0) < 0 && errno == EINTR) {
    }
    vm_status = status;
  }
  if (reported >= 0) return reported;
  char how[64];
  snprintf(how, sizeof how, WIFEXITED(vm_status) ? "exited with status %d" : "was killed by signal %d",
           WIFEXITED(vm_status) ? WEXITSTATUS(vm_status) : WTERMSIG(vm_status));
  if (terminated) { /* we were told to stop, and the guest could not report in time */
    write_statuses(status_dir, apps, napps, 128 + SIGTERM);
    return 128 + SIGTERM;
  }
  if (escaped && !booted) return 128 + SIGKILL; /* no app had started: none has a status */
  if (booted && WIFSIGNALED(vm_status) && !killed_by_us) { /* ^]^]^], rkt stop --force, or anyone's kill */
    int code = 128 + WTERMSIG(vm_status);
    write_statuses(status_dir, apps, napps, code);
    return code;
  }
  if (!booted)
    fprintf(stderr, "kvm-exec: QEMU %s before the guest started%s%s\n", how, *hint ? ": " : "", hint);
  else
    fprintf(stderr, "kvm-exec: the guest ended without reporting its apps' exit (QEMU %s)\n", how);
  show_console(console_log);
  return EXIT_INTERNAL;
}
