/*
 * fly-exec: the fly stage1's process supervisor, and its enter helper.
 *
 *   fly-exec run   --root DIR --cwd DIR --uid N --gid N [--groups G1,G2,...] --env-file FILE [--cgroup DIR]...
 *                  --status FILE --pid-file FILE --pgid-file FILE [--started-file FILE] [--ready-link FILE]
 *                  [--lock-fd N] [--oom FILE --oom-marker FILE] [--pre-start WORD]... [--post-stop WORD]...
 *                  [--iomux PROG --log FILE [--attach DIR [--attach-stdin 1]]] [--listen-fds N] [--env NAME=VALUE]...
 *                  -- PROG [ARGS...]
 *   fly-exec enter --root DIR --cwd DIR --uid N --gid N [--groups G1,G2,...] --env-file FILE [--cgroup DIR]...
 *                  -- PROG [ARGS...]
 *
 * run: the stage1's `run` entrypoint prepares the mounts and execve's this program, so the PID that
 * `rkt run` was started with stays ours (systemd, Nomad and shells see one process) and no Node process
 * stays in the pod. We write the pgid file (getpgrp(), for `stop`), keep the pod lock fd open but
 * close-on-exec, fork the app, write the pid file (the app's PID), touch the started file and make the ready
 * link (a symlink to "ready": rkt's supervisor-status, for `rkt status --wait-ready`) once the app has exec'd, forward signals to it, wait for it, write the status file and exit with its code
 * (128+N when killed by signal N). If the app can't be started, we print why, exit 254 and write no
 * status (an app that never started has none) and no pid or started file.
 *
 * Each --cgroup is the app's cgroup in one hierarchy (the run entrypoint made them, with the app's limits):
 * the app, and with enter the entered process, joins them before anything else. When the app exits, every
 * process left in them (what it started in the background, and their children) is killed before we record
 * its status and exit, since our exit releases the pod lock and makes the pod "exited": nothing of a pod may
 * outlive it (it could still be changing the pod's files while rkt deletes them). We are a child subreaper,
 * so the app's orphans are ours to reap. --oom names the memory cgroup's memory.oom_control (v1) or
 * memory.events (v2): an app killed by SIGKILL while it counts an OOM kill gets the --oom-marker file.
 *
 * Under systemd (docs/stage1.md "Under systemd"): --listen-fds N keeps the unit's listening sockets, our fds 3 …
 * 3+N-1, open for the app (not its handlers) with LISTEN_FDS=N and LISTEN_PID its own pid; each --env NAME=VALUE
 * (NOTIFY_SOCKET, LISTEN_FDNAMES) is added to the app's environment only, not to the env file `enter` reads.
 *
 * Event handlers (appc's pre-start and post-stop), each given word by word (--pre-start PROG --pre-start
 * ARG...), run as root (uid 0, gid 0, no supplementary groups: rkt's rule) but otherwise like the app (its
 * cgroups, root, working directory and environment), supervised like it: pre-start before the app, which
 * starts only if it exits 0 (otherwise the status is 254 and so is our exit code); post-stop once the app
 * has exited and its status is written, whatever it was (its own code is only reported).
 *
 * --iomux: the app's stdout and stderr (not its handlers') go through pipes to PROG, the supervisor's logger
 * (stage1-supervisor/native/iomux.c), started before the app with --log FILE (and --attach DIR, --stdin FD with
 * --attach-stdin 1, the app's stdin then being a pipe from it too): it writes them to FILE in the CRI format and
 * copies them on to our stdout and stderr. It ends at EOF of the pipes, once the app and its leftovers are gone;
 * we wait for it (at most 2 s) before exiting, so that an exited pod's log is whole.
 *
 * enter: the same chroot, working directory, credentials and environment, with the caller's TERM (vt100
 * without one, as rkt's enter), then execve with no fork: the process becomes PROG (fly has no namespaces
 * to join).
 *
 * The child, in this order: default signal dispositions and an empty mask; the cgroups; every fd above 2
 * close-on-exec (the lock fd is closed outright); chroot(--root); chdir(--cwd), then getcwd() must work (a cwd such as
 * /proc/self/fd/N can't lead outside the root: CVE-2024-21626); setgroups(--groups, none when absent or
 * empty; list the primary gid too if it should be there, as rkt did); setgid; setuid; execve(PROG, ARGS,
 * env). --cwd and PROG are absolute paths inside the root; env is the env file's lines, each NAME=value
 * (no other quoting; empty lines are skipped). All other paths are host paths, read or written before
 * chroot or by the parent. Files are written whole (temp file + rename): pid and pgid as decimal +
 * newline, status as the decimal exit code without newline.
 *
 * Signals forwarded: SIGTERM SIGINT SIGHUP SIGQUIT SIGUSR1 SIGUSR2 SIGWINCH SIGALRM SIGCONT, except those
 * the kernel sent (si_code SI_KERNEL: Ctrl-C, terminal resize or hangup go to the whole foreground
 * process group, which includes the app) and those the app sent itself (kill(0, sig) reaches us too).
 * A kill(2) by another process to the whole process group looks exactly like one to us alone
 * (SI_USER), so it is forwarded: the app then gets it twice. Stdio is inherited. Exit 254 for our own
 * errors, as rkt.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXIT_INTERNAL 254

static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGALRM, SIGCONT};

#define MAX_CGROUPS 16

struct opts {
  const char *root, *cwd, *env_file, *status, *pid_file, *pgid_file, *started, *ready, *groups_arg, *oom, *oom_marker;
  const char *iomux, *log, *attach, *attach_stdin;
  const char *cgroups[MAX_CGROUPS];
  size_t ncgroups;
  long uid, gid, lock_fd;
  gid_t *groups;
  size_t ngroups;
  char **env;
  char **argv; /* PROG, ARGS..., NULL */
  char **pre_start, **post_stop; /* the event handlers' argv, NULL-terminated, or NULL */
  size_t npre_start, npost_stop;
  int as_handler;         /* an event handler: no --env, no listening sockets */
  long listen_fds;        /* socket activation: our fds 3.. handed to the app (not its handlers) */
  char **extra_env;       /* --env NAME=VALUE: the app's only (not in the env file enter reads), NULL-terminated */
  size_t nextra_env;
};

/* The steps the child reports through the pipe when they fail. */
enum step {
  STEP_SIGNALS = 1, STEP_CGROUP, STEP_FDS, STEP_CHROOT, STEP_CHDIR, STEP_GETCWD, STEP_SETGROUPS, STEP_SETGID, STEP_SETUID, STEP_EXEC
};

struct report {
  int step, err;
};

static void __attribute__((format(printf, 1, 2))) warn(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("fly-exec: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

#define die(...) (warn(__VA_ARGS__), exit(EXIT_INTERNAL))

static void __attribute__((noreturn)) usage(const char *why) {
  die("%s\nusage: fly-exec run --root DIR --cwd DIR --uid N --gid N [--groups G1,G2,...] --env-file FILE [--cgroup DIR]... "
      "--status FILE --pid-file FILE --pgid-file FILE [--started-file FILE] [--ready-link FILE] [--lock-fd N] "
      "[--oom FILE --oom-marker FILE] [--pre-start WORD]... [--post-stop WORD]... [--listen-fds N] [--env NAME=VALUE]... "
      "-- PROG [ARGS...]\n"
      "       fly-exec enter --root DIR --cwd DIR --uid N --gid N [--groups G1,G2,...] --env-file FILE [--cgroup DIR]... "
      "-- PROG [ARGS...]",
      why);
}

/* A decimal number in [0, max]: strtoul alone would accept "-1", " 7" and "7x". */
static long parse_num(const char *s, unsigned long max, const char *what) {
  char *end;
  errno = 0;
  unsigned long v = (s[0] >= '0' && s[0] <= '9') ? strtoul(s, &end, 10) : 0;
  if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v > max) die("invalid %s \"%s\"", what, s);
  return (long)v;
}

/* (uid_t)-1 and (gid_t)-1 mean "unchanged" to the set*id calls: never valid ids. */
#define ID_MAX ((unsigned long)(uid_t)-2)

static void parse_groups(struct opts *o) {
  const char *s = o->groups_arg;
  if (!s || !*s) return;
  size_t n = 1;
  for (const char *p = s; *p; p++) n += *p == ',';
  o->groups = calloc(n, sizeof(gid_t));
  char *copy = strdup(s);
  if (!o->groups || !copy) die("out of memory");
  char *save = NULL;
  for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
    o->groups[o->ngroups++] = (gid_t)parse_num(tok, ID_MAX, "group id");
  if (o->ngroups != n) die("invalid --groups \"%s\"", s); /* empty items: "1,,2", ",1" */
  free(copy);
}

static int read_all(int fd, void *buf, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t r = read(fd, (char *)buf + done, len - done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return r < 0 ? -1 : (int)done;
    done += (size_t)r;
  }
  return (int)done;
}

static int write_all(int fd, const void *buf, size_t len) {
  while (len > 0) {
    ssize_t w = write(fd, buf, len);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -1;
    buf = (const char *)buf + w;
    len -= (size_t)w;
  }
  return 0;
}

/* The env file, read on the host before chroot, as an execve environment: one NAME=value per line. */
static char **read_env(const char *file) {
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("can't open the env file \"%s\": %s", file, strerror(errno));
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  if (!buf) die("out of memory");
  for (;;) {
    if (len == cap) {
      if (cap > SIZE_MAX / 2 || !(buf = realloc(buf, cap *= 2))) die("out of memory");
    }
    ssize_t r = read(fd, buf + len, cap - len);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) die("can't read the env file \"%s\": %s", file, strerror(errno));
    if (r == 0) break;
    len += (size_t)r;
  }
  if (close(fd) < 0) die("can't read the env file \"%s\": %s", file, strerror(errno));
  if (memchr(buf, '\0', len)) die("the env file \"%s\" contains a NUL byte", file);
  size_t lines = 1;
  for (size_t i = 0; i < len; i++) lines += buf[i] == '\n';
  char **env = calloc(lines + 1, sizeof(char *));
  if (!env) die("out of memory");
  size_t n = 0, lineno = 0;
  for (size_t start = 0; start < len;) {
    char *nl = memchr(buf + start, '\n', len - start);
    size_t end = nl ? (size_t)(nl - buf) : len;
    lineno++;
    /* The last line may lack its newline; there is room in buf only if it has one, so copy it. */
    char *line = nl ? (buf[end] = '\0', buf + start) : strndup(buf + start, end - start);
    if (!line) die("out of memory");
    if (*line) {
      if (line[0] == '=' || !strchr(line, '=')) die("the env file \"%s\", line %zu, is not NAME=value", file, lineno);
      env[n++] = line;
    }
    start = end + 1;
  }
  return env;
}

/* Writes content to path whole: a reader sees the old file, nothing, or all of the new one. */
static int write_file_atomic(const char *path, const char *content) {
  size_t plen = strlen(path);
  char *tmp = malloc(plen + sizeof ".XXXXXX");
  if (!tmp) return errno = ENOMEM, -1;
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, ".XXXXXX", sizeof ".XXXXXX");
  int fd = mkostemp(tmp, O_CLOEXEC), err = 0;
  if (fd < 0) return err = errno, free(tmp), errno = err, -1;
  if (fchmod(fd, 0644) < 0 || write_all(fd, content, strlen(content)) < 0) err = errno;
  if (close(fd) < 0 && !err) err = errno;
  if (!err && rename(tmp, path) < 0) err = errno;
  if (err) unlink(tmp);
  free(tmp);
  errno = err;
  return err ? -1 : 0;
}

static void write_number_file(const char *path, long v, const char *what) {
  char buf[32];
  snprintf(buf, sizeof buf, "%ld\n", v);
  if (write_file_atomic(path, buf) < 0) die("can't write the %s file \"%s\": %s", what, path, strerror(errno));
}

/* Marks every fd above 2 close-on-exec, so nothing the caller leaked reaches the app (SEC-05). */
static int cloexec_above_stdio(void) {
  if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return -1;
  DIR *d = opendir("/proc/self/fd"); /* Linux < 5.11 */
  if (!d) return -1;
  struct dirent *e;
  while ((e = readdir(d))) {
    int fd = atoi(e->d_name);
    if (fd > 2 && fd != dirfd(d) && fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) return closedir(d), -1;
  }
  return closedir(d);
}

/* Moves the calling process into the cgroup whose directory is dir. */
static int join_cgroup(const char *dir) {
  char procs[PATH_MAX];
  if (snprintf(procs, sizeof procs, "%s/cgroup.procs", dir) >= (int)sizeof procs) return errno = ENAMETOOLONG, -1;
  int fd = open(procs, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int r = write_all(fd, "0", 1), err = errno;
  close(fd);
  return errno = err, r;
}

/*
 * The app's environment and descriptors beyond its env file (docs/stage1.md "Under systemd"): the --env variables
 * (NOTIFY_SOCKET, LISTEN_FDNAMES) and, with --listen-fds N, the unit's sockets kept open at 3… with LISTEN_FDS and
 * LISTEN_PID (the app's own pid, which execve keeps).
 */
static int app_env(const struct opts *o, char ***envp) {
  if (!o->nextra_env && o->listen_fds <= 0) return 0;
  size_t n = 0;
  while (o->env[n]) n++;
  char **env = calloc(n + o->nextra_env + 3, sizeof *env);
  if (!env) return -1;
  memcpy(env, o->env, n * sizeof *env);
  memcpy(env + n, o->extra_env, o->nextra_env * sizeof *env), n += o->nextra_env;
  if (o->listen_fds > 0 &&
      (asprintf(&env[n++], "LISTEN_FDS=%ld", o->listen_fds) < 0 || asprintf(&env[n++], "LISTEN_PID=%d", (int)getpid()) < 0))
    return -1;
  for (long fd = 3; fd < 3 + o->listen_fds; fd++)
    if (fcntl((int)fd, F_SETFD, 0) < 0) return -1;
  *envp = env;
  return 0;
}

/*
 * Becomes the app. On failure: with errfd >= 0 (the run child) sends the failed step and errno to the
 * parent and exits; otherwise (enter) returns them for the caller to print.
 */
/* The app's stdin, stdout and stderr while it is being started with a logger (-1: ours); the logger's pid. */
static int app_stdio[3] = {-1, -1, -1};
static pid_t iomux_pid = -1;

/* Starts the logger (--iomux) on pipes whose other ends app_stdio holds for the app. */
static void start_iomux(const struct opts *o) {
  int p[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}}; /* stdin, stdout, stderr */
  int with_stdin = o->attach_stdin && !strcmp(o->attach_stdin, "1");
  for (int i = with_stdin ? 0 : 1; i < 3; i++)
    if (pipe2(p[i], O_CLOEXEC) < 0) die("can't make the log pipes: %s", strerror(errno));
  char out[16], err[16], in[16];
  snprintf(out, sizeof out, "%d", p[1][0]), snprintf(err, sizeof err, "%d", p[2][0]), snprintf(in, sizeof in, "%d", p[0][1]);
  char *argv[12] = {"iomux", "--log", (char *)o->log, "--stdout", out, "--stderr", err};
  int n = 7;
  if (o->attach) argv[n++] = "--attach", argv[n++] = (char *)o->attach;
  if (with_stdin) argv[n++] = "--stdin", argv[n++] = in;
  fflush(NULL);
  if ((iomux_pid = fork()) < 0) die("fork: %s", strerror(errno));
  if (iomux_pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int i = 0; i < 3; i++) /* our ends stay open across execve */
      if (p[i][i == 0] >= 0) fcntl(p[i][i == 0], F_SETFD, 0);
    execv(o->iomux, argv);
    warn("can't execute the logger \"%s\": %s", o->iomux, strerror(errno));
    _exit(EXIT_INTERNAL);
  }
  for (int i = 0; i < 3; i++) {
    app_stdio[i] = p[i][i != 0];
    if (p[i][i == 0] >= 0) close(p[i][i == 0]);
  }
}

/* Waits for the logger, which ends once the app's pipes are closed (or kills it after 2 s). */
static void wait_iomux(void) {
  struct timespec tick = {0, 10 * 1000000};
  for (int i = 0; iomux_pid > 0 && i < 200; i++) {
    pid_t r = waitpid(iomux_pid, NULL, WNOHANG);
    if (r == iomux_pid || (r < 0 && errno == ECHILD)) return;
    nanosleep(&tick, NULL);
  }
  if (iomux_pid > 0) kill(iomux_pid, SIGKILL);
}

static struct report become_app(const struct opts *o, int errfd) {
  struct report rep = {0, 0};
  sigset_t none;
  sigemptyset(&none);
  /* The caller may have ignored signals (Node ignores SIGPIPE); ignored dispositions survive execve. */
  for (int sig = 1; sig < NSIG && !rep.step; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (signal(sig, SIG_DFL) == SIG_ERR && errno != EINVAL) rep = (struct report){STEP_SIGNALS, errno};
  }
  if (!rep.step && sigprocmask(SIG_SETMASK, &none, NULL) < 0) rep = (struct report){STEP_SIGNALS, errno};
  for (int i = 0; i < 3 && !rep.step; i++)
    if (app_stdio[i] >= 0 && dup2(app_stdio[i], i) < 0) rep = (struct report){STEP_FDS, errno};
  for (size_t i = 0; i < o->ncgroups && !rep.step; i++)
    if (join_cgroup(o->cgroups[i]) < 0) rep = (struct report){STEP_CGROUP, errno};
  /* Close the lock fd before chdir: the app's root has /proc, and /proc/self/fd/N would lead to the pod
   * directory. Our parent still holds the lock through its own copy of the fd. */
  if (!rep.step && o->lock_fd >= 0 && close((int)o->lock_fd) < 0) rep = (struct report){STEP_FDS, errno};
  if (!rep.step && cloexec_above_stdio() < 0) rep = (struct report){STEP_FDS, errno};
  char **env = o->env;
  if (!rep.step && errfd >= 0 && !o->as_handler && app_env(o, &env) < 0) rep = (struct report){STEP_FDS, errno};
  if (!rep.step && chroot(o->root) < 0) rep = (struct report){STEP_CHROOT, errno};
  if (!rep.step && chdir(o->cwd) < 0) rep = (struct report){STEP_CHDIR, errno};
  char cwd[PATH_MAX]; /* getcwd fails (ENOENT) when the directory is outside the root */
  if (!rep.step && !getcwd(cwd, sizeof cwd)) rep = (struct report){STEP_GETCWD, errno};
  if (!rep.step && cwd[0] != '/') rep = (struct report){STEP_GETCWD, ENOENT};
  if (!rep.step && setgroups(o->ngroups, o->groups) < 0) rep = (struct report){STEP_SETGROUPS, errno};
  if (!rep.step && setgid((gid_t)o->gid) < 0) rep = (struct report){STEP_SETGID, errno};
  if (!rep.step && setuid((uid_t)o->uid) < 0) rep = (struct report){STEP_SETUID, errno};
  if (!rep.step) {
    execve(o->argv[0], o->argv, env);
    rep = (struct report){STEP_EXEC, errno};
  }
  if (errfd >= 0) {
    /* If even this write fails, the parent sees a short report and says the app failed to start. */
    (void)write_all(errfd, &rep, sizeof rep);
    _exit(EXIT_INTERNAL);
  }
  return rep;
}

/* Says which step of becoming the program failed, as die does, without exiting. */
static void say_step(const struct opts *o, struct report rep) {
  const char *e = strerror(rep.err);
  switch (rep.step) {
  case STEP_SIGNALS: warn("can't reset the signal state: %s", e); break;
  case STEP_CGROUP: warn("can't join the app's cgroups: %s", e); break;
  case STEP_FDS: warn("can't close the file descriptors the app must not get: %s", e); break;
  case STEP_CHROOT: warn("can't chroot to \"%s\": %s", o->root, e); break;
  case STEP_CHDIR: warn("can't chdir to \"%s\" in the app's root: %s", o->cwd, e); break;
  case STEP_GETCWD: warn("the working directory \"%s\" is outside the app's root: %s", o->cwd, e); break;
  case STEP_SETGROUPS: warn("can't set the supplementary groups to \"%s\": %s", o->groups_arg ? o->groups_arg : "", e); break;
  case STEP_SETGID: warn("can't set the gid to %ld: %s", o->gid, e); break;
  case STEP_SETUID: warn("can't set the uid to %ld: %s", o->uid, e); break;
  case STEP_EXEC: warn("can't execute \"%s\": %s", o->argv[0], e); break;
  default: warn("the app failed to start (step %d): %s", rep.step, e);
  }
}

static void __attribute__((noreturn)) die_step(const struct opts *o, struct report rep) {
  say_step(o, rep);
  exit(EXIT_INTERNAL);
}

static void parse(int argc, char **argv, struct opts *o) {
  *o = (struct opts){.uid = -1, .gid = -1, .lock_fd = -1, .listen_fds = -1};
  int run = strcmp(argv[1], "run") == 0;
  int i = 2;
  for (; i < argc && strcmp(argv[i], "--") != 0; i += 2) {
    const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    const char **s = NULL;
    long *n = NULL;
    if (!strcmp(k, "--root")) s = &o->root;
    else if (!strcmp(k, "--cwd")) s = &o->cwd;
    else if (!strcmp(k, "--env-file")) s = &o->env_file;
    else if (!strcmp(k, "--groups")) s = &o->groups_arg;
    else if (!strcmp(k, "--uid")) n = &o->uid;
    else if (!strcmp(k, "--gid")) n = &o->gid;
    else if (run && !strcmp(k, "--status")) s = &o->status;
    else if (run && !strcmp(k, "--pid-file")) s = &o->pid_file;
    else if (run && !strcmp(k, "--pgid-file")) s = &o->pgid_file;
    else if (run && !strcmp(k, "--started-file")) s = &o->started;
    else if (run && !strcmp(k, "--ready-link")) s = &o->ready;
    else if (run && !strcmp(k, "--lock-fd")) n = &o->lock_fd;
    else if (run && !strcmp(k, "--oom")) s = &o->oom;
    else if (run && !strcmp(k, "--oom-marker")) s = &o->oom_marker;
    else if (run && !strcmp(k, "--iomux")) s = &o->iomux;
    else if (run && !strcmp(k, "--log")) s = &o->log;
    else if (run && !strcmp(k, "--attach")) s = &o->attach;
    else if (run && !strcmp(k, "--attach-stdin")) s = &o->attach_stdin;
    else if (run && !strcmp(k, "--listen-fds")) n = &o->listen_fds;
    else if (run && (!strcmp(k, "--pre-start") || !strcmp(k, "--post-stop") || !strcmp(k, "--env"))) {
      if (!v) die("%s needs a value", k);
      if (!strcmp(k, "--env") && (v[0] == '=' || !strchr(v, '='))) die("--env \"%s\" is not NAME=value", v);
      int pre = !strcmp(k, "--pre-start"), env = !strcmp(k, "--env");
      char ***words = env ? &o->extra_env : pre ? &o->pre_start : &o->post_stop;
      size_t *n = env ? &o->nextra_env : pre ? &o->npre_start : &o->npost_stop;
      if (!(*words = realloc(*words, (*n + 2) * sizeof **words))) die("out of memory");
      (*words)[(*n)++] = (char *)v, (*words)[*n] = NULL;
      continue;
    }
    else if (!strcmp(k, "--cgroup")) {
      if (!v) die("%s needs a value", k);
      if (o->ncgroups == MAX_CGROUPS) die("more than %d --cgroup", MAX_CGROUPS);
      if (v[0] != '/') die("the cgroup \"%s\" is not an absolute path", v);
      o->cgroups[o->ncgroups++] = v;
      continue;
    }
    else die("unknown option \"%s\" for %s", k, argv[1]);
    if (!v) die("%s needs a value", k);
    if ((s && *s) || (n && *n != -1)) die("%s given twice", k);
    if (s) *s = v;
    else *n = parse_num(v, n == &o->lock_fd ? INT_MAX : n == &o->listen_fds ? 1024 : ID_MAX, k + 2);
  }
  if (i + 1 >= argc) usage("missing -- PROG");
  o->argv = argv + i + 1;
  if (!o->root || !o->cwd || !o->env_file || o->uid < 0 || o->gid < 0) usage("missing a required option");
  if (run && (!o->status || !o->pid_file || !o->pgid_file)) usage("missing a required option");
  if (!o->oom != !o->oom_marker) usage("--oom and --oom-marker go together");
  if (!o->iomux != !o->log || (o->attach && !o->log)) usage("--iomux and --log go together, --attach needs them");
  /* Both are resolved after chroot: a relative path would start from our host working directory. */
  if (o->cwd[0] != '/') die("the working directory \"%s\" is not an absolute path", o->cwd);
  if (o->argv[0][0] != '/') die("the program \"%s\" is not an absolute path", o->argv[0]);
  if ((o->pre_start && o->pre_start[0][0] != '/') || (o->post_stop && o->post_stop[0][0] != '/'))
    die("an event handler's program is not an absolute path");
  if (o->lock_fd >= 0 && o->lock_fd < 3) die("the lock fd can't be stdin, stdout or stderr");
  if (o->lock_fd >= 0 && o->lock_fd < 3 + o->listen_fds) die("the lock fd can't be one of the listening sockets");
  parse_groups(o);
  o->env = read_env(o->env_file);
}

/* Waits for the app, forwarding signals to it; returns its exit code (128+N when killed by signal N). */
static int supervise(pid_t app, const sigset_t *set) {
  for (;;) {
    siginfo_t si;
    int sig = sigwaitinfo(set, &si);
    if (sig < 0) {
      if (errno == EINTR) continue;
      die("sigwaitinfo: %s", strerror(errno));
    }
    if (sig == SIGCHLD) {
      /* The app, or an orphan of it (we are a subreaper): reap every child that is done. */
      for (;;) {
        int st;
        pid_t r = waitpid(-1, &st, WNOHANG);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno != ECHILD) die("waitpid: %s", strerror(errno));
        if (r <= 0) break;
        if (r == iomux_pid) iomux_pid = -1; /* the logger ended early: nothing to wait for */
        if (r == app && WIFEXITED(st)) return WEXITSTATUS(st);
        if (r == app && WIFSIGNALED(st)) return 128 + WTERMSIG(st);
      }
      continue; /* stopped or continued, or a coalesced SIGCHLD already handled */
    }
    /* The kernel signals the whole foreground process group (and the app is in ours): it has its copy. */
    if (si.si_code == SI_KERNEL || si.si_pid == app) continue;
    if (kill(app, sig) < 0 && errno != ESRCH)
      fprintf(stderr, "fly-exec: can't forward signal %d: %s\n", sig, strerror(errno));
  }
}

/* Adds the PIDs in dir's cgroup.procs and in its child cgroups' to *pids. */
static void cgroup_pids(const char *dir, pid_t **pids, size_t *n, size_t *cap, int depth) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/cgroup.procs", dir);
  FILE *f = fopen(path, "re");
  for (long pid; f && fscanf(f, "%ld", &pid) == 1;) {
    if (*n == *cap && !(*pids = realloc(*pids, (*cap = *cap ? *cap * 2 : 64) * sizeof **pids))) die("out of memory");
    (*pids)[(*n)++] = (pid_t)pid;
  }
  if (f) fclose(f);
  DIR *d = depth < 32 ? opendir(dir) : NULL;
  for (struct dirent *e; d && (e = readdir(d));) {
    if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    cgroup_pids(path, pids, n, cap, depth + 1);
  }
  if (d) closedir(d);
}

/*
 * Kills every process left in the app's cgroups once the app has exited, and reaps those that are ours,
 * until the cgroups are empty: cgroup.kill where the kernel has it (cgroup v2), else SIGKILL to each process,
 * again for those forked meanwhile. Gives up, saying so, after 5 s (a process that left the cgroups, which
 * only one with CAP_SYS_ADMIN can do, is not ours to find).
 */
static void kill_leftovers(const struct opts *o) {
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  pid_t *pids = NULL;
  size_t cap = 0;
  for (;;) {
    size_t n = 0;
    for (size_t i = 0; i < o->ncgroups; i++) {
      char kill_file[PATH_MAX];
      snprintf(kill_file, sizeof kill_file, "%s/cgroup.kill", o->cgroups[i]);
      int fd = open(kill_file, O_WRONLY | O_CLOEXEC);
      if (fd >= 0) (void)!write(fd, "1", 1), close(fd);
      cgroup_pids(o->cgroups[i], &pids, &n, &cap, 0);
    }
    for (size_t i = 0; i < n; i++) kill(pids[i], SIGKILL);
    while (waitpid(-1, NULL, WNOHANG) > 0) {}
    if (n == 0) break;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - start.tv_sec >= 5) {
      fprintf(stderr, "fly-exec: %zu processes of the app would not die (the first: %ld)\n", n, (long)pids[0]);
      break;
    }
    usleep(10000);
  }
  free(pids);
}

/* True when the memory cgroup's record (a line "oom_kill N", N > 0) counts an OOM kill. */
static int oom_killed(const char *file) {
  char buf[4096];
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
  if (fd >= 0) close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  for (char *p = buf; (p = strstr(p, "oom_kill ")); p++)
    if (p == buf || p[-1] == '\n') return strtol(p + 9, NULL, 10) > 0;
  return 0;
}

/* env with TERM set to ours, the caller's (vt100 without one): what an entered command writes goes to its terminal. */
static char **with_term(char **env) {
  const char *term = getenv("TERM");
  size_t n = 0, k = 0;
  while (env[n]) n++;
  char **out = calloc(n + 2, sizeof *out);
  if (!out) die("out of memory");
  for (size_t i = 0; i < n; i++)
    if (strncmp(env[i], "TERM=", 5)) out[k++] = env[i];
  if (asprintf(&out[k], "TERM=%s", term && *term ? term : "vt100") < 0) die("out of memory");
  return out;
}

/* Forks a child that becomes o's program; returns its pid once it has exec'd, or -1 once it said why not. */
static pid_t start(const struct opts *o) {
  /* The child reports a failure before exec through this pipe; a successful exec closes it (O_CLOEXEC). */
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) < 0) die("pipe: %s", strerror(errno));
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) die("fork: %s", strerror(errno));
  if (pid == 0) {
    (void)close(pfd[0]); /* only tidiness: exec would close it */
    become_app(o, pfd[1]);
  }
  /* Our copy of the write end must go, or the read below never sees the end of the pipe. */
  if (close(pfd[1]) < 0) die("close: %s", strerror(errno));
  struct report rep;
  int got = read_all(pfd[0], &rep, sizeof rep);
  if (got < 0) die("reading from the app's start pipe: %s", strerror(errno));
  if (close(pfd[0]) < 0) die("close: %s", strerror(errno));
  if (got == 0) return pid;
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
  if (got != (int)sizeof rep) warn("the app failed to start");
  else say_step(o, rep);
  return -1;
}

/* o as an event handler runs: argv, as root. */
static struct opts as_root(const struct opts *o, char **argv) {
  struct opts h = *o;
  h.uid = h.gid = 0, h.groups = NULL, h.ngroups = 0, h.groups_arg = NULL, h.argv = argv, h.as_handler = 1;
  return h;
}

int main(int argc, char **argv) {
  if (argc < 2 || (strcmp(argv[1], "run") != 0 && strcmp(argv[1], "enter") != 0))
    usage("the first argument must be run or enter");
  struct opts o;
  parse(argc, argv, &o);
  if (strcmp(argv[1], "enter") == 0) {
    o.env = with_term(o.env);
    die_step(&o, become_app(&o, -1));
  }

  write_number_file(o.pgid_file, (long)getpgrp(), "pgid");
  /* Keep the lock for as long as we live, but never hand it to the app (SEC-05). */
  if (o.lock_fd >= 0 && fcntl((int)o.lock_fd, F_SETFD, FD_CLOEXEC) < 0)
    die("can't use the lock fd %ld: %s", o.lock_fd, strerror(errno));

  /* Blocked signals wait for sigwaitinfo, which tells who sent them. Blocked before fork so none is lost
   * between fork and the loop. Default dispositions: an ignored SIGCHLD would make the kernel reap the
   * app for us, and a caller such as a shell without job control may have ignored SIGINT. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  for (size_t k = 0; k < sizeof forwarded / sizeof forwarded[0]; k++) sigaddset(&set, forwarded[k]);
  if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) die("can't block signals: %s", strerror(errno));
  for (int sig = 1; sig < NSIG; sig++)
    if (sigismember(&set, sig) == 1 && signal(sig, SIG_DFL) == SIG_ERR)
      die("can't reset signal %d: %s", sig, strerror(errno));

  /* Orphans of the app become our children, for us to reap (and not the host's init's, which may not). */
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) die("can't become a subreaper: %s", strerror(errno));

  if (o.pre_start) {
    struct opts h = as_root(&o, o.pre_start);
    pid_t pid = start(&h);
    int code = pid < 0 ? EXIT_INTERNAL : supervise(pid, &set);
    kill_leftovers(&o);
    if (code != 0) {
      if (write_file_atomic(o.status, "254") < 0) warn("can't write the status file \"%s\": %s", o.status, strerror(errno));
      die("the pre-start handler exited with %d: the app was not started", code);
    }
  }
  if (o.iomux) start_iomux(&o);
  pid_t app = start(&o);
  for (int i = 0; i < 3; i++) /* the app has them now */
    if (app_stdio[i] >= 0) close(app_stdio[i]), app_stdio[i] = -1;
  if (app < 0) exit(EXIT_INTERNAL);

  /* The app runs. Without a pid file nobody could stop it: then it must not outlive us. */
  char buf[32];
  snprintf(buf, sizeof buf, "%ld\n", (long)app);
  const char *failed = write_file_atomic(o.pid_file, buf) < 0 ? o.pid_file : NULL;
  if (!failed && o.started) {
    int fd = open(o.started, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
    if (fd < 0 || close(fd) < 0) failed = o.started;
  }
  if (!failed && o.ready) {
    /* Made whole or not at all: a readiness poller never sees a half-made link. */
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", o.ready) >= (int)sizeof tmp) failed = o.ready;
    else {
      (void)unlink(tmp);
      if (symlink("ready", tmp) < 0 || rename(tmp, o.ready) < 0) failed = o.ready;
    }
  }
  if (failed) {
    int err = errno;
    (void)kill(app, SIGKILL); /* cannot fail: it is our child, not yet reaped */
    while (waitpid(app, NULL, 0) < 0 && errno == EINTR) {}
    die("can't write \"%s\" (the app was killed): %s", failed, strerror(err));
  }

  int code = supervise(app, &set);
  kill_leftovers(&o);
  if (o.oom && code == 128 + SIGKILL && oom_killed(o.oom)) {
    int fd = open(o.oom_marker, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
    if (fd < 0 || close(fd) < 0) fprintf(stderr, "fly-exec: can't write \"%s\": %s\n", o.oom_marker, strerror(errno));
  }
  snprintf(buf, sizeof buf, "%d", code);
  /* The app has run: its code is the answer even if the status can't be recorded. */
  if (write_file_atomic(o.status, buf) < 0)
    fprintf(stderr, "fly-exec: can't write the status file \"%s\": %s\n", o.status, strerror(errno));
  if (o.post_stop) {
    struct opts h = as_root(&o, o.post_stop);
    pid_t pid = start(&h);
    int done = pid < 0 ? EXIT_INTERNAL : supervise(pid, &set);
    kill_leftovers(&o);
    if (done != 0) warn("the post-stop handler exited with %d", done);
  }
  wait_iomux();
  return code;
}
