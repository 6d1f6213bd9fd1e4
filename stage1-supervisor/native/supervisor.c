/*
 * supervisor: PID 1 of an nspawn pod, and of a kvm pod's guest (stage1-supervisor/README.md is the contract).
 *
 *   /supervisor /rkt/supervisor.conf
 *
 * Starts every app at once, each in its own cgroups, mount and cgroup namespaces and root (its pre-start
 * handler first, when it has one), writes the status files the host reads, reaps every zombie of the
 * pod, runs the post-stop handlers, and ends the pod: when an app fails (exits non-zero or is killed) or
 * when we get SIGTERM or SIGINT, every app and pre-start handler still running gets SIGTERM (its whole
 * process group), and once the grace period has elapsed every process left in the pod gets SIGKILL (again
 * after each further grace period, for post-stop handlers started meanwhile). We exit when every app and
 * its handlers are done, with the first failing app's code, 0 if none failed, 254 for our own errors. An
 * app that cannot be set up, or whose pre-start handler fails, gets status 254 and counts as failed; an
 * app not started because the pod was stopping gets no status. Post-stop handlers run only for apps that
 * ran, and their exit codes are only reported. A mutable pod (`mutable 1`) is driven through a control socket
 * instead: apps are added, started, stopped and removed on the host's request, and it ends only when asked.
 *
 * A process is forked with a close-on-exec pipe: the child writes why it failed to it, so EOF means the
 * exec happened and we block on the pipe only while the child sets itself up (mounts, no waiting on
 * anything). Each process is the leader of its own process group, which the fan-out signals whole.
 * We are not dumpable, so the apps (without CAP_SYS_PTRACE) can't open /proc/1/exe (CVE-2019-5736).
 */
#define _GNU_SOURCE
#include "isolate.h"
#include "logger.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <stddef.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void __attribute__((format(printf, 1, 2))) warn(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("supervisor: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* ---- in the child: the app's root, in its own namespaces -------------------------------------------- */

/* A cgroup hierarchy mounted under the container's /sys/fs/cgroup ("" for a cgroup2 mounted right there). */
struct hierarchy {
  char *dir, *type, *opts;
};
static struct hierarchy *hierarchies;
static size_t nhierarchies;
static int have_console; /* nspawn made a /dev/console (--console=interactive) */

/*
 * Mounts on dir, relative to the app's root (our cwd), creating it if missing. It must be a directory and
 * not a symlink, which an image could aim anywhere in the pod (CVE-2019-19921, CVE-2026-41579): opened
 * with O_NOFOLLOW, the mount goes on that very directory through its /proc/self/fd link.
 */
static int mount_dir(const char *dir, const char *src, const char *type, unsigned long flags, const char *data) {
  if (mkdir(dir, 0755) < 0 && errno != EEXIST)
    return isolate_fail(errno, "can't create \"/%s\" in the app's root", dir);
  int fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return isolate_fail(errno, "\"/%s\" in the app's root must be a directory", dir);
  char target[64];
  snprintf(target, sizeof target, "/proc/self/fd/%d", fd);
  int r = mount(src, target, type, flags, data), err = errno;
  close(fd);
  if (r < 0) isolate_fail(err, "can't mount %s on \"/%s\"", type ? type : src, dir), errno = err;
  return r < 0 ? -1 : 0;
}

#define NOSUID_NODEV_NOEXEC (MS_NOSUID | MS_NODEV | MS_NOEXEC)

/* A read-only tmpfs holding a fresh, read-only mount of each hierarchy: made in the app's cgroup
 * namespace, each shows the app's own cgroup as its root and nothing above. */
static int mount_cgroups(void) {
  for (size_t i = 0; i < nhierarchies; i++) /* a unified host: cgroup2 right at /sys/fs/cgroup */
    if (!*hierarchies[i].dir)
      return mount_dir("sys/fs/cgroup", "cgroup2", "cgroup2", MS_RDONLY | NOSUID_NODEV_NOEXEC, hierarchies[i].opts);
  if (mount_dir("sys/fs/cgroup", "tmpfs", "tmpfs", NOSUID_NODEV_NOEXEC, "mode=755") < 0) return -1;
  for (size_t i = 0; i < nhierarchies; i++) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "sys/fs/cgroup/%s", hierarchies[i].dir);
    if (mount_dir(dir, "cgroup", hierarchies[i].type, MS_RDONLY | NOSUID_NODEV_NOEXEC, hierarchies[i].opts) < 0)
      return -1;
  }
  /* Hosts with joint controllers have links such as cpu -> cpu,cpuacct: the app gets them too. */
  DIR *d = opendir("/sys/fs/cgroup");
  for (struct dirent *e; d && (e = readdir(d));) {
    char target[PATH_MAX], link[PATH_MAX];
    ssize_t n = e->d_type == DT_LNK ? readlinkat(dirfd(d), e->d_name, target, sizeof target - 1) : -1;
    if (n <= 0) continue;
    target[n] = '\0';
    snprintf(link, sizeof link, "sys/fs/cgroup/%s", e->d_name);
    if (symlink(target, link) < 0) return closedir(d), isolate_fail(errno, "can't create \"/%s\"", link);
  }
  if (d) closedir(d);
  if (mount(NULL, "sys/fs/cgroup", NULL, MS_REMOUNT | MS_RDONLY | NOSUID_NODEV_NOEXEC, "mode=755") < 0)
    return isolate_fail(errno, "can't make /sys/fs/cgroup read-only");
  return 0;
}

/* A bind remount clears the flags it is not given: keep what the mount has, and add read-only. */
static int remount_ro(const char *path, const char *what) {
  struct statvfs vfs;
  unsigned long keep = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME;
  if (statvfs(path, &vfs) < 0 || mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | (vfs.f_flag & keep), NULL) < 0)
    return isolate_fail(errno, "can't make %s read-only", what);
  return 0;
}

/*
 * A fresh read-only sysfs. A user namespace that does not own the network namespace (a --private-users pod on
 * the host's network or a CNI one) may not mount one (EPERM): the container's own /sys, which nspawn set up
 * read-only, is bound instead, with its submounts (a non-recursive bind of locked mounts is refused).
 */
static int mount_sys(void) {
  if (mount_dir("sys", "sysfs", "sysfs", MS_RDONLY | NOSUID_NODEV_NOEXEC, NULL) == 0) return 0;
  if (errno != EPERM || mount_dir("sys", "/sys", NULL, MS_BIND | MS_REC, NULL) < 0) return -1;
  return remount_ro("sys", "/sys");
}

/* A tmpfs with bind mounts of the container's standard nodes and /dev/pts, and the usual links. */
static int mount_dev(void) {
  static const char *const nodes[] = {"null", "zero", "full", "random", "urandom", "tty", "console"};
  static const char *const links[][2] = {
    {"pts/ptmx", "dev/ptmx"}, {"/proc/self/fd", "dev/fd"}, {"/proc/self/fd/0", "dev/stdin"},
    {"/proc/self/fd/1", "dev/stdout"}, {"/proc/self/fd/2", "dev/stderr"},
  };
  if (mount_dir("dev", "tmpfs", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=65536k") < 0) return -1;
  for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++) {
    char src[64], dst[64];
    snprintf(src, sizeof src, "/dev/%s", nodes[i]);
    snprintf(dst, sizeof dst, "dev/%s", nodes[i]);
    if (!strcmp(nodes[i], "console") && !have_console) continue;
    int fd = open(dst, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
    if (fd < 0) return isolate_fail(errno, "can't create \"/%s\"", dst);
    close(fd);
    if (mount(src, dst, NULL, MS_BIND, NULL) < 0) return isolate_fail(errno, "can't bind %s", src);
  }
  if (mount_dir("dev/pts", "/dev/pts", NULL, MS_BIND, NULL) < 0) return -1;
  if (mount_dir("dev/shm", "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0) return -1;
  for (size_t i = 0; i < sizeof links / sizeof *links; i++)
    if (symlink(links[i][0], links[i][1]) < 0) return isolate_fail(errno, "can't create \"/%s\"", links[i][1]);
  return 0;
}

/* A tmpfs on /tmp, unless a volume is there: then /tmp is another mount than the root. */
static int mount_tmp(void) {
  struct statx root, tmp;
  if (statx(AT_FDCWD, ".", 0, STATX_MNT_ID, &root) < 0) return isolate_fail(errno, "can't stat the app's root");
  if (statx(AT_FDCWD, "tmp", AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &tmp) == 0 && tmp.stx_mnt_id != root.stx_mnt_id)
    return 0;
  return mount_dir("tmp", "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
}

/* Kernel interfaces hidden (files under /dev/null, directories under an empty tmpfs) or made read-only. */
static int mask_paths(void) {
  static const char *const masked[] = {"proc/kcore", "proc/keys", "proc/timer_list", "proc/sched_debug",
                                       "proc/latency_stats", "proc/acpi", "proc/scsi", "sys/firmware"};
  static const char *const readonly[] = {"proc/sys", "proc/sysrq-trigger", "proc/irq", "proc/bus", "proc/fs"};
  struct stat st;
  for (size_t i = 0; i < sizeof masked / sizeof *masked; i++) {
    const char *p = masked[i];
    if (lstat(p, &st) < 0) continue; /* not on this kernel */
    int r = S_ISDIR(st.st_mode) ? mount("tmpfs", p, "tmpfs", MS_RDONLY | NOSUID_NODEV_NOEXEC, "mode=555")
                                : mount("/dev/null", p, NULL, MS_BIND, NULL);
    if (r < 0) return isolate_fail(errno, "can't mask /%s", p);
  }
  for (size_t i = 0; i < sizeof readonly / sizeof *readonly; i++) {
    const char *p = readonly[i];
    if (lstat(p, &st) < 0) continue;
    if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0 ||
        mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | NOSUID_NODEV_NOEXEC, NULL) < 0)
      return isolate_fail(errno, "can't make /%s read-only", p);
  }
  return 0;
}

static int notify_bind(const struct app *a);
static char **systemd_exec(const struct app *a, char **argv);

/* README "What the supervisor does for each app", steps 1 and 2. */
static int setup(const struct app *a) {
  int null = a->interactive ? -1 : open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (!a->interactive && (null < 0 || dup2(null, 0) < 0)) return isolate_fail(errno, "can't open /dev/null as stdin");
  for (size_t i = 0; i < a->ncgroup_fds; i++)
    if (write(a->cgroup_fds[i], "0", 1) != 1)
      return isolate_fail(errno, "can't join the app's cgroup (fd %d)", a->cgroup_fds[i]);
  if (unshare(CLONE_NEWNS | CLONE_NEWCGROUP) < 0)
    return isolate_fail(errno, "can't create mount and cgroup namespaces");
  if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) return isolate_fail(errno, "can't make / a slave mount");
  if (mount(a->root, a->root, NULL, MS_BIND | MS_REC, NULL) < 0 || chdir(a->root) < 0)
    return isolate_fail(errno, "can't bind the app's root \"%s\"", a->root);
  if (mount_dir("proc", "proc", "proc", NOSUID_NODEV_NOEXEC, NULL) < 0) return -1;
  if (mount_sys() < 0 || mount_cgroups() < 0) return -1;
  if (mount_dev() < 0 || mount_tmp() < 0 || (a->mask_paths && mask_paths() < 0)) return -1;
  if (notify_bind(a) < 0) return -1;
  /* pivot_root(".", "."), then detach the old root stacked on the new one: no directory needed for it. */
  if (syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
    return isolate_fail(errno, "can't pivot_root into \"%s\"", a->root);
  return a->readonly_rootfs ? remount_ro("/", "the app's root") : 0;
}

static void __attribute__((noreturn)) child(const struct app *a, char **argv, int errfd) {
  setpgid(0, 0);
  /* Give an interactive app the terminal. From a background group, tcsetpgrp raises SIGTTOU, which would
   * stop us unless blocked (isolate_reset_signals unblocks it). Without a terminal, it fails: no matter. */
  if (a->interactive) {
    sigset_t ttou;
    sigemptyset(&ttou);
    sigaddset(&ttou, SIGTTOU);
    sigprocmask(SIG_BLOCK, &ttou, NULL);
    tcsetpgrp(0, getpid());
  }
  char **env;
  if (isolate_reset_signals() == 0 && setup(a) == 0 && (logger_dup(), isolate_apply(a) == 0) && (env = systemd_exec(a, argv))) {
    execve(argv[0], argv, env);
    isolate_fail(errno, "can't execute \"%s\"", argv[0]);
  }
  /* If this fails, the parent sees EOF and takes the exit status (254) for the app's. */
  (void)!write(errfd, isolate_error, strlen(isolate_error));
  _exit(EXIT_INTERNAL);
}

/* ---- in PID 1 ---------------------------------------------------------------------------------------- */

/* True when path is a mount of its own rather than a directory of the mount holding "/". */
static int own_mount(const char *path) {
  struct statx root, p;
  return statx(AT_FDCWD, "/", 0, STATX_MNT_ID, &root) == 0 &&
         statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &p) == 0 && p.stx_mnt_id != root.stx_mnt_id;
}

/* Binds path on itself, making it a mount of its own (whose write access no longer follows "/"'s). */
static int bind_self(const char *path) {
  if (own_mount(path)) return 0;
  return mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0 ? isolate_fail(errno, "can't bind %s", path) : 0;
}

/*
 * Makes the stage1's own files read-only for the rest of the pod's life. The container's root is the pod's
 * stage1 rootfs, which an app holding CAP_SYS_PTRACE reaches as /proc/1/root: without this it could rewrite
 * our programs and files. What stays writable: /rkt, our records for the host (status, pids,
 * supervisor-status), except the files the host wrote there for us (this configuration and the apps'
 * environments in /rkt/env, which `rkt enter` reads back); and each app's root, made a mount of its own first
 * where it is only a directory of "/" (kvm's 9p root, --no-overlay).
 */
static int seal_stage1(const struct conf *c, const char *conf_file) {
  struct stat st;
  for (size_t i = 0; i < c->napps; i++)
    if (bind_self(c->apps[i].root) < 0) return -1;
  if (bind_self("/rkt") < 0) return -1;
  const char *host_files[] = {conf_file, "/rkt/env"};
  for (size_t i = 0; i < sizeof host_files / sizeof *host_files; i++) {
    if (stat(host_files[i], &st) < 0 && errno == ENOENT) continue;
    if (mount(host_files[i], host_files[i], NULL, MS_BIND, NULL) < 0)
      return isolate_fail(errno, "can't bind %s", host_files[i]);
    if (remount_ro(host_files[i], host_files[i]) < 0) return -1;
  }
  return remount_ro("/", "the stage1's root");
}

static struct conf conf;
enum state { PENDING, PRE_START, RUNNING, POST_STOP, DONE };
static struct run {
  enum state state;
  pid_t pid;
} *runs;
static size_t started;
static int stopping, failed, exit_code;
static int failure_stop; /* the pod is stopping because an app failed, not because we were asked to */
static struct timespec deadline; /* of the grace period, while stopping */
static void control_settled(size_t i, int code);

/* Forks a process running argv for app a; returns its pid once it has exec'd, or -1 (reported, reaped). */
static pid_t spawn(const struct app *a, char **argv, const char *what) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return warn("app \"%s\": can't start the %s: %s", a->name, what, strerror(errno)), -1;
  pid_t pid = fork();
  if (pid == 0) child(a, argv, p[1]);
  close(p[1]);
  char msg[sizeof isolate_error];
  size_t len = 0;
  while (pid > 0 && len < sizeof msg - 1) {
    ssize_t n = read(p[0], msg + len, sizeof msg - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  close(p[0]);
  if (pid < 0) return warn("app \"%s\": can't fork the %s: %s", a->name, what, strerror(errno)), -1;
  if (len == 0) return pid;
  msg[len] = '\0';
  warn("app \"%s\": can't start the %s: %s", a->name, what, msg);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
  return -1;
}

/* Event handlers run as root (rkt's rule: its pre-start could prepare what the app's user may not), in the app's
 * root and within its isolation (capabilities, seccomp) like the app itself. */
static pid_t spawn_handler(const struct app *a, char **argv, const char *what) {
  struct app root = *a;
  root.uid = root.gid = 0, root.ngroups = 0;
  return spawn(&root, argv, what);
}

/* Writes content whole under path (temp file + rename): the host sees nothing or all of it. */
static void write_file(const char *dir, const char *name, const char *content) {
  char path[PATH_MAX], tmp[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
  int fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644), err = 0;
  size_t len = strlen(content);
  if (fd < 0 || write(fd, content, len) != (ssize_t)len) err = errno;
  if (fd >= 0 && close(fd) < 0 && !err) err = errno;
  if (!err && rename(tmp, path) < 0) err = errno;
  if (err) warn("can't write %s: %s", path, strerror(err)), unlink(tmp);
}

static void write_number(const char *dir, const char *name, long n) {
  char buf[32];
  snprintf(buf, sizeof buf, "%ld", n);
  write_file(dir, name, buf);
}

/* An empty file named <app><suffix> in /rkt/status, whose mtime the host reads. */
static void touch_status(const struct app *a, const char *suffix) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "/rkt/status/%s%s", a->name, suffix);
  int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0 || futimens(fd, NULL) < 0) warn("can't write %s: %s", path, strerror(errno));
  if (fd >= 0) close(fd);
}

/* True when the app's memory cgroup counts an OOM kill: a line "oom_kill N", N > 0, in
 * memory.oom_control (v1) or memory.events (v2). */
static int oom_killed(const struct app *a) {
  char buf[4096];
  ssize_t n = a->oom_fd < 0 ? -1 : pread((int)a->oom_fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return 0;
  buf[n] = '\0';
  for (char *p = buf; (p = strstr(p, "oom_kill ")); p++)
    if (p == buf || p[-1] == '\n') return strtol(p + 9, NULL, 10) > 0;
  return 0;
}

static void arm_deadline(void) {
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += conf.grace_ms / 1000;
  deadline.tv_nsec += conf.grace_ms % 1000 * 1000000;
  if (deadline.tv_nsec >= 1000000000) deadline.tv_sec++, deadline.tv_nsec -= 1000000000;
}

/* Starts the fan-out: SIGTERM to the apps and pre-start handlers, SIGKILL to everything after grace. */
static void stop(void) {
  if (stopping) return;
  stopping = 1;
  arm_deadline();
  for (size_t i = 0; i < conf.napps; i++)
    if (runs[i].state == PRE_START || runs[i].state == RUNNING) kill(-runs[i].pid, SIGTERM);
}

static void fail(int code) {
  if (!failed) failed = 1, exit_code = code;
  if (!stopping) failure_stop = 1;
  stop();
}

/* The app ended with code: its status file (after the OOM marker), then its post-stop handler if it ran. */
static void app_ended(size_t i, int code, int ran, int oom) {
  const struct app *a = &conf.apps[i];
  if (oom) touch_status(a, ".oom");
  write_number("/rkt/status", a->name, code);
  if (code && !conf.mutable) fail(code); /* in a mutable pod, an app's end is its own */
  runs[i].state = DONE;
  if (ran && a->post_stop.n && (runs[i].pid = spawn_handler(a, a->post_stop.v, "post-stop handler")) > 0)
    runs[i].state = POST_STOP;
  control_settled(i, code);
}

/* /rkt/supervisor-status, a symlink to "ready", made atomically: the host waits for it. */
static void mark_ready(void) {
  const char *tmp = "/rkt/.supervisor-status.tmp";
  unlink(tmp);
  if (symlink("ready", tmp) < 0 || rename(tmp, "/rkt/supervisor-status") < 0)
    warn("can't make /rkt/supervisor-status: %s", strerror(errno));
}

static void start_app(size_t i) {
  const struct app *a = &conf.apps[i];
  if (logger_start(a) < 0) return warn("app \"%s\": %s", a->name, isolate_error), app_ended(i, EXIT_INTERNAL, 0, 0);
  pid_t pid = spawn(a, a->argv.v, "app");
  logger_spawned();
  if (pid < 0) return app_ended(i, EXIT_INTERNAL, 0, 0);
  runs[i] = (struct run){RUNNING, pid};
  write_number("/rkt/pids", a->name, pid);
  touch_status(a, "-started");
  control_settled(i, 0);
  if (++started == conf.napps) mark_ready();
}

/* The app's pre-start handler, or the app itself when it has none. */
static void begin_app(size_t i) {
  const struct app *a = &conf.apps[i];
  if (!a->pre_start.n) start_app(i);
  else if ((runs[i].pid = spawn_handler(a, a->pre_start.v, "pre-start handler")) > 0) runs[i].state = PRE_START;
  else app_ended(i, EXIT_INTERNAL, 0, 0);
}

static void reaped(pid_t pid, int status) {
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  for (size_t i = 0; i < conf.napps; i++) {
    const struct app *a = &conf.apps[i];
    if (runs[i].pid != pid || runs[i].state == DONE) continue;
    switch (runs[i].state) {
    case RUNNING:
      /* A sibling of a failed app that ends on our SIGTERM did nothing wrong: it reports 0, as under rkt (its
       * TestExitCodeWithSeveralApps). Stopped on request (rkt stop), it reports 143. */
      if (failure_stop && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) code = 0;
      app_ended(i, code, 1, WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && oom_killed(a));
      break;
    case PRE_START:
      if (stopping) runs[i].state = DONE, control_settled(i, code); /* the pod is ending: the app never starts */
      else if (code) {
        warn("app \"%s\": the pre-start handler exited with %d", a->name, code);
        app_ended(i, EXIT_INTERNAL, 0, 0);
      }
      else start_app(i);
      break;
    case POST_STOP:
      if (code) warn("app \"%s\": the post-stop handler exited with %d", a->name, code);
      runs[i].state = DONE;
      control_settled(i, -1);
      break;
    case PENDING:
    case DONE:
      break;
    }
    return;
  }
}

/* ---- mutable mode: the control socket (README "Mutable pods") ---------------------------------------- */

#define CONTROL_SOCKET "/rkt/control.sock"
#define ADDED_DIR "/rkt/supervisor.d"
#define MAX_FDS 32

/* Per app, beside runs: the connection waiting for its start or stop to settle, and when a stop kills it. */
static struct control {
  int waiter; /* -1: none */
  char verb;  /* the waiter's: 's' start, 'x' stop */
  int armed;  /* a stop's SIGKILL is due at kill_at */
  struct timespec kill_at;
} *ctl;
static int control_fd = -1, signal_fd = -1;

/* Answers one line ("ok" or "error MESSAGE") and closes the connection. */
static void __attribute__((format(printf, 2, 3))) answer(int fd, const char *fmt, ...) {
  char line[sizeof isolate_error + 16];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n > sizeof line - 2) n = (int)sizeof line - 2;
  line[n++] = '\n';
  (void)!write(fd, line, (size_t)n);
  close(fd);
}

/* Answers the request waiting on app i once it has settled: a start once the app runs (or could not),
 * a stop once the app and its post-stop handler are done. code: the app's exit status, -1 if unknown. */
static void control_settled(size_t i, int code) {
  struct control *c = ctl ? &ctl[i] : NULL;
  if (!c || c->waiter < 0) return;
  enum state s = runs[i].state;
  if (c->verb == 's' && s == RUNNING) answer(c->waiter, "ok");
  else if (c->verb == 's' && (s == DONE || s == POST_STOP))
    answer(c->waiter, "error app \"%s\" could not start (status %d)", conf.apps[i].name, code);
  else if (c->verb == 'x' && s == DONE) answer(c->waiter, "ok");
  else return;
  c->waiter = -1, c->armed = 0;
}

/* Removes the files the host reads about the app: all of them (rm), or those of its last run (start). */
static void remove_status(const char *name, int all) {
  static const char *const run_files[] = {"", ".oom", "-started"};
  char path[PATH_MAX];
  for (size_t k = 0; k < sizeof run_files / sizeof *run_files; k++) {
    snprintf(path, sizeof path, "/rkt/status/%s%s", name, run_files[k]);
    unlink(path);
  }
  snprintf(path, sizeof path, "/rkt/pids/%s", name);
  unlink(path);
  snprintf(path, sizeof path, "/rkt/status/%s-created", name);
  if (all) unlink(path);
}

/* Checks that the request carried a descriptor for the added conf's fd number n: they are numbered from 3 in
 * the order sent, as LISTEN_FDS numbers them. */
static int sent(const char *file, long n, size_t nfds) {
  if (n < 0 || (size_t)(n - 3) < nfds) return 0;
  return isolate_fail(0, "%s: descriptor %ld was not sent with the request (%zu were)", file, n, nfds);
}

/* add: loads the app's section from /rkt/supervisor.d/NAME.conf, which the host wrote before asking. */
static int control_add(const char *name, const int *fds, size_t nfds) {
  if (conf_app(&conf, name)) return isolate_fail(0, "app \"%s\" is already in the pod", name);
  char file[PATH_MAX];
  snprintf(file, sizeof file, ADDED_DIR "/%s.conf", name);
  struct conf added;
  if (conf_load(file, &added) < 0) return -1;
  if (added.napps != 1 || strcmp(added.apps[0].name, name) || added.mutable)
    return isolate_fail(0, "%s: must hold exactly one app, \"%s\", and no pod records", file, name);
  struct app a = added.apps[0];
  if (sent(file, a.oom_fd, nfds) < 0) return -1;
  for (size_t k = 0; k < a.ncgroup_fds; k++)
    if (sent(file, a.cgroup_fds[k], nfds) < 0) return -1;
  /* Its root, a directory of the read-only "/" (the host made it after we sealed the stage1), made a
   * writable mount of its own; on kvm it is already one (a disk the guest agent mounted). */
  if (!own_mount(a.root) && (bind_self(a.root) < 0 || mount(NULL, a.root, NULL, MS_BIND | MS_REMOUNT, NULL) < 0))
    return isolate_fail(errno, "can't make the app's root \"%s\" writable", a.root);
  struct app *apps = realloc(conf.apps, (conf.napps + 1) * sizeof *apps);
  if (apps) conf.apps = apps;
  struct run *r = apps ? realloc(runs, (conf.napps + 1) * sizeof *r) : NULL;
  if (r) runs = r;
  struct control *c = r ? realloc(ctl, (conf.napps + 1) * sizeof *c) : NULL;
  if (!c) return isolate_fail(ENOMEM, "can't add app \"%s\"", name);
  ctl = c;
  /* Copies of the received descriptors, which are closed after the request (-1 if out of descriptors: the app
   * then fails to join its cgroups, with a message). */
  for (size_t k = 0; k < a.ncgroup_fds; k++) a.cgroup_fds[k] = fcntl(fds[a.cgroup_fds[k] - 3], F_DUPFD_CLOEXEC, 3);
  if (a.oom_fd >= 0) a.oom_fd = fcntl(fds[a.oom_fd - 3], F_DUPFD_CLOEXEC, 3);
  conf.apps[conf.napps] = a;
  runs[conf.napps] = (struct run){PENDING, 0};
  ctl[conf.napps] = (struct control){.waiter = -1};
  touch_status(&conf.apps[conf.napps++], "-created");
  return 0;
}

/* rm: forgets an app that is not running, its descriptors and its files in /rkt/status and /rkt/pids. */
static int control_rm(size_t i) {
  struct app *a = &conf.apps[i];
  if (runs[i].state != PENDING && runs[i].state != DONE)
    return isolate_fail(0, "app \"%s\" is running: stop it first", a->name);
  remove_status(a->name, 1);
  for (size_t k = 0; k < a->ncgroup_fds; k++) close(a->cgroup_fds[k]);
  if (a->oom_fd >= 0) close((int)a->oom_fd);
  size_t rest = conf.napps - i - 1;
  memmove(a, a + 1, rest * sizeof *a);
  memmove(&runs[i], &runs[i + 1], rest * sizeof *runs);
  memmove(&ctl[i], &ctl[i + 1], rest * sizeof *ctl);
  conf.napps--;
  return 0;
}

/* True when the peer is outside every app: outside the pod's pid namespace (pid 0, the host on nspawn), or
 * in our own cgroup (kvm's guest agent), where no app process stays: each joins its cgroups at once. An app
 * without cgroups (a host without any) would stay in ours: then only the first rule holds. */
static int peer_allowed(pid_t pid) {
  if (pid == 0) return 1;
  for (size_t i = 0; i < conf.napps; i++)
    if (!conf.apps[i].ncgroup_fds) return 0;
  char path[64], mine[4096], theirs[4096];
  snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
  int f1 = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC), f2 = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n1 = f1 < 0 ? -1 : read(f1, mine, sizeof mine - 1), n2 = f2 < 0 ? -1 : read(f2, theirs, sizeof theirs - 1);
  if (f1 >= 0) close(f1);
  if (f2 >= 0) close(f2);
  return n1 > 0 && n1 == n2 && !memcmp(mine, theirs, (size_t)n1);
}

/* Reads the request line (the first message may carry descriptors); returns its length, or -1. */
static ssize_t read_request(int fd, char *line, size_t size, int *fds, size_t *nfds) {
  char cbuf[CMSG_SPACE(MAX_FDS * sizeof(int))];
  struct iovec iov = {line, size - 1};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
  for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); n >= 0 && cm; cm = CMSG_NXTHDR(&msg, cm))
    if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
      for (size_t k = 0; k < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); k++) {
        int rfd;
        memcpy(&rfd, CMSG_DATA(cm) + k * sizeof(int), sizeof rfd);
        if (*nfds < MAX_FDS) fds[(*nfds)++] = rfd;
        else close(rfd);
      }
  for (ssize_t more = n; n > 0 && !memchr(line, '\n', (size_t)n) && more > 0 && (size_t)n < size - 1; n += more)
    if ((more = read(fd, line + n, size - 1 - (size_t)n)) < 0) return -1;
  if (n <= 0 || !memchr(line, '\n', (size_t)n)) return -1;
  line[n] = '\0';
  return n;
}

/* One request: "VERB APP\n", answered "ok\n" or "error MESSAGE\n" (a start or stop, once it has settled). */
static void control_serve(void) {
  int fd = accept4(control_fd, NULL, NULL, SOCK_CLOEXEC), fds[MAX_FDS];
  if (fd < 0) return;
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || !peer_allowed(cred.pid))
    return answer(fd, "error permission denied: the pod's apps may not drive it");
  struct timeval tv = {5, 0}; /* the host writes its line at once: nothing may hold PID 1 up */
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char line[512], verb[16], name[256];
  size_t nfds = 0;
  if (read_request(fd, line, sizeof line, fds, &nfds) < 0 || sscanf(line, "%15s %255s", verb, name) != 2 ||
      strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(name)) {
    answer(fd, "error the request is not \"VERB APP\" (an app name: lowercase letters, digits, dashes)");
  } else if (stopping) {
    answer(fd, "error the pod is stopping");
  } else if (!strcmp(verb, "add")) {
    if (control_add(name, fds, nfds) < 0) answer(fd, "error %s", isolate_error);
    else answer(fd, "ok");
  } else {
    struct app *a = conf_app(&conf, name);
    size_t i = a ? (size_t)(a - conf.apps) : 0;
    enum state s = a ? runs[i].state : DONE;
    if (!a) answer(fd, "error app \"%s\" is not in the pod", name);
    else if (ctl[i].waiter >= 0) answer(fd, "error app \"%s\" is busy with another request", name);
    else if (!strcmp(verb, "rm")) {
      if (control_rm(i) < 0) answer(fd, "error %s", isolate_error);
      else answer(fd, "ok");
    } else if (!strcmp(verb, "start") && s != PENDING && s != DONE) {
      answer(fd, "error app \"%s\" is already running", name);
    } else if (!strcmp(verb, "start")) {
      remove_status(name, 0); /* an exited app starts again: its last status goes */
      ctl[i] = (struct control){.waiter = fd, .verb = 's'};
      begin_app(i);
    } else if (!strcmp(verb, "stop") && s != PRE_START && s != RUNNING) {
      answer(fd, "error app \"%s\" is not running", name);
    } else if (!strcmp(verb, "stop")) {
      kill(-runs[i].pid, SIGTERM);
      ctl[i] = (struct control){.waiter = fd, .verb = 'x', .armed = 1};
      clock_gettime(CLOCK_MONOTONIC, &ctl[i].kill_at);
      ctl[i].kill_at.tv_sec += conf.grace_ms / 1000;
      ctl[i].kill_at.tv_nsec += conf.grace_ms % 1000 * 1000000;
      if (ctl[i].kill_at.tv_nsec >= 1000000000) ctl[i].kill_at.tv_sec++, ctl[i].kill_at.tv_nsec -= 1000000000;
    } else {
      answer(fd, "error unknown verb \"%s\" (add, start, stop, rm)", verb);
    }
  }
  for (size_t k = 0; k < nfds; k++) close(fds[k]);
}

/* Milliseconds from now to t, rounded up (poll must not wake before it), at least 0. */
static long long ms_until(const struct timespec *t) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  long long ns = (t->tv_sec - now.tv_sec) * 1000000000LL + (t->tv_nsec - now.tv_nsec);
  return ns > 0 ? (ns + 999999) / 1000000 : 0;
}

/*
 * The mutable pod's wait: like sigtimedwait on the blocked signals (a signal number; -1 with EAGAIN once the
 * pod's grace period is over), serving control requests and the SIGKILL of apps stopped a grace ago
 * meanwhile. Returns 0 after a request, for the caller to reap and check again.
 */
static int control_wait(void) {
  for (;;) {
    long long ms = stopping ? ms_until(&deadline) : -1;
    if (stopping && ms == 0) return errno = EAGAIN, -1;
    for (size_t i = 0; i < conf.napps; i++) {
      if (!ctl[i].armed) continue;
      long long t = ms_until(&ctl[i].kill_at);
      if (t == 0 && (runs[i].state == PRE_START || runs[i].state == RUNNING)) kill(-runs[i].pid, SIGKILL);
      if (t == 0) ctl[i].armed = 0;
      else if (ms < 0 || t < ms) ms = t;
    }
    struct pollfd p[2] = {{signal_fd, POLLIN, 0}, {control_fd, POLLIN, 0}};
    int n = poll(p, 2, ms > INT_MAX ? INT_MAX : (int)ms);
    if (n < 0 && errno != EINTR) return -1;
    struct signalfd_siginfo si;
    if (n > 0 && p[0].revents & POLLIN && read(signal_fd, &si, sizeof si) == sizeof si) return (int)si.ssi_signo;
    if (n > 0 && p[1].revents & POLLIN) return control_serve(), 0;
  }
}

/* Mutable mode's set-up: /rkt/supervisor.d sealed read-only for the pod (the host writes underneath),
 * the control socket listening, the signals read from a signalfd, and the pod marked ready. */
static int control_listen(const sigset_t *set) {
  if (!(ctl = calloc(conf.napps + 1, sizeof *ctl))) return isolate_fail(ENOMEM, "mutable mode");
  for (size_t i = 0; i < conf.napps; i++) ctl[i].waiter = -1;
  if ((mkdir(ADDED_DIR, 0700) < 0 && errno != EEXIST) || mount(ADDED_DIR, ADDED_DIR, NULL, MS_BIND, NULL) < 0)
    return isolate_fail(errno, "can't bind " ADDED_DIR);
  if (remount_ro(ADDED_DIR, ADDED_DIR) < 0) return -1;
  /* kvm's guest names another place (README "Mutable pods"): its /rkt is 9p, which cannot hold a socket. */
  const char *path = getenv("RKT_CONTROL_SOCKET") ? getenv("RKT_CONTROL_SOCKET") : CONTROL_SOCKET;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) return isolate_fail(0, "RKT_CONTROL_SOCKET is too long: %s", path);
  strcpy(addr.sun_path, path);
  unlink(path);
  if ((control_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
      bind(control_fd, (struct sockaddr *)&addr, sizeof addr) < 0 || chmod(path, 0600) < 0 || listen(control_fd, 16) < 0)
    return isolate_fail(errno, "can't listen on %s", path);
  if ((signal_fd = signalfd(-1, set, SFD_CLOEXEC)) < 0) return isolate_fail(errno, "can't make a signalfd");
  mark_ready();
  return 0;
}

/* The pod's hostname, from the stage1's /etc/hostname (stage1 writes it; rkt's stage1 did the same). Set here rather
 * than by nspawn's --hostname, whose rule (letters, digits, '-', '.') refuses names rkt accepted, such as
 * custom_hostname_setting; the kernel takes any name up to 64 bytes. Only as PID 1, which here always has a UTS
 * namespace of its own (nspawn's, or the VM's), so the host's hostname is never touched. */
static void set_pod_hostname(void) {
  char name[65];
  int fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
  if (getpid() != 1 || fd < 0) {
    if (fd >= 0) close(fd);
    return;
  }
  ssize_t n = read(fd, name, sizeof name - 1);
  close(fd);
  while (n > 0 && name[n - 1] == '\n') n--;
  if (n > 0 && sethostname(name, (size_t)n) < 0) warn("can't set the pod's hostname: %s", strerror(errno));
}

/* ---- systemd: the apps' notification sockets and the unit's listening sockets (README "systemd") ---------- */

/* Per app the pod started with, by name (a mutable pod's apps come and go, and added apps do not notify): the
 * datagram socket it says READY=1 on, /rkt/notify/<app> (-1 if it does not notify), and whether READY=1 came. */
static struct notify {
  const char *name;
  int fd, ready;
} *notifies;
static size_t nnotifies;
static size_t notify_waiting; /* apps that notify and have not said READY=1 yet */

static struct notify *notify_of(const struct app *a) {
  for (size_t i = 0; a->notify && i < nnotifies; i++)
    if (notifies[i].fd >= 0 && !strcmp(notifies[i].name, a->name)) return &notifies[i];
  return NULL;
}

/* A socket for each app that notifies, at /rkt/notify/<app> (a tmpfs); a datagram on it raises SIGIO (blocked: main's loop
 * waits for it). Writable by every user: the app may run as any uid, and only its own root has the socket. */
static int notify_setup(void) {
  struct statfs fs;
  if (!(notifies = calloc(conf.napps + 1, sizeof *notifies))) return isolate_fail(ENOMEM, "notify");
  nnotifies = conf.napps;
  for (size_t i = 0; i < conf.napps; i++) {
    struct notify *n = &notifies[i];
    *n = (struct notify){conf.apps[i].name, -1, 0};
    if (!conf.apps[i].notify) continue;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    /* A tmpfs of the pod's own: kvm's /rkt is the host's over 9p, where QEMU refuses sockets (special files). */
    if ((mkdir("/rkt/notify", 0755) < 0 && errno != EEXIST) ||
        (statfs("/rkt/notify", &fs) == 0 && fs.f_type != TMPFS_MAGIC &&
         mount("tmpfs", "/rkt/notify", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755") < 0))
      return isolate_fail(errno, "can't make /rkt/notify");
    if (snprintf(sa.sun_path, sizeof sa.sun_path, "/rkt/notify/%s", conf.apps[i].name) >= (int)sizeof sa.sun_path)
      return isolate_fail(0, "app \"%s\": the name is too long for a notification socket", conf.apps[i].name);
    unlink(sa.sun_path);
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (n->fd < 0 || bind(n->fd, (struct sockaddr *)&sa, sizeof sa) < 0 || chmod(sa.sun_path, 0666) < 0 ||
        fcntl(n->fd, F_SETOWN, getpid()) < 0 || fcntl(n->fd, F_SETFL, O_NONBLOCK | O_ASYNC) < 0)
      return isolate_fail(errno, "can't make the notification socket %s", sa.sun_path);
    notify_waiting++;
  }
  return 0;
}

/* In the app's child, its root the working directory: the app's socket bound on /run/systemd/notify, made without
 * following the image's symlinks (a /run leading elsewhere in the pod is refused). */
static int notify_bind(const struct app *a) {
  struct notify *n = notify_of(a);
  if (!n) return 0;
  int run = -1, sd = -1, file = -1, ok = -1;
  if ((mkdir("run", 0755) == 0 || errno == EEXIST) && (run = open("run", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0 &&
      (mkdirat(run, "systemd", 0755) == 0 || errno == EEXIST) &&
      (sd = openat(run, "systemd", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0 &&
      (mknodat(sd, "notify", S_IFREG | 0644, 0) == 0 || errno == EEXIST) &&
      (file = openat(sd, "notify", O_PATH | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
    char src[PATH_MAX], dst[64];
    struct stat st;
    snprintf(src, sizeof src, "/rkt/notify/%s", a->name); /* the container's, still our root */
    snprintf(dst, sizeof dst, "/proc/self/fd/%d", file);
    ok = fstat(file, &st) == 0 && !S_ISLNK(st.st_mode) && !S_ISDIR(st.st_mode) ? mount(src, dst, NULL, MS_BIND, NULL) : -1;
  }
  int err = errno;
  if (file >= 0) close(file);
  if (sd >= 0) close(sd);
  if (run >= 0) close(run);
  return ok < 0 ? isolate_fail(err, "can't bind the notification socket on /run/systemd/notify in the app's root") : 0;
}

/* Says READY=1 on our own NOTIFY_SOCKET (nspawn's with --notify-ready=yes; kvm's guest relay), if we have one. */
static void notify_ready(void) {
  const char *path = getenv("NOTIFY_SOCKET");
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  size_t len = path ? strlen(path) : 0;
  if (len == 0) return;
  if (len >= sizeof sa.sun_path) return warn("NOTIFY_SOCKET is too long: %s", path);
  memcpy(sa.sun_path, path, len);
  if (path[0] == '@') sa.sun_path[0] = '\0'; /* an abstract socket */
  int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0 || sendto(s, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
    warn("can't send READY=1 to %s: %s", path, strerror(errno));
  if (s >= 0) close(s);
}

/* On SIGIO: reads what the apps sent; once the last of them said READY=1 (a line of its own), the pod is ready. */
static void notify_drain(void) {
  for (size_t i = 0; i < nnotifies; i++) {
    char buf[4096];
    ssize_t len;
    while (notifies[i].fd >= 0 && (len = recv(notifies[i].fd, buf, sizeof buf - 1, MSG_DONTWAIT)) >= 0) {
      buf[len] = '\0';
      int ready = 0;
      for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) ready |= !strcmp(l, "READY=1");
      if (!ready || notifies[i].ready) continue;
      notifies[i].ready = 1;
      if (--notify_waiting == 0) notify_ready();
    }
  }
}

/*
 * In the app's child, just before execve: the environment, with NOTIFY_SOCKET for an app that notifies and, for the
 * app itself (not its handlers) when it is socket-activated, the unit's sockets left open at 3… with LISTEN_FDS,
 * LISTEN_PID (its own: the pid it keeps through execve) and LISTEN_FDNAMES.
 */
static char **systemd_exec(const struct app *a, char **argv) {
  int listen = a->socket_activated && conf.listen_fds > 0 && argv == a->argv.v;
  if (!notify_of(a) && !listen) return a->env.v;
  struct strv env = {0};
  char *extra[4] = {0};
  size_t n = 0;
  if (notify_of(a) && asprintf(&extra[n++], "NOTIFY_SOCKET=/run/systemd/notify") < 0) return NULL;
  if (listen && (asprintf(&extra[n++], "LISTEN_FDS=%ld", conf.listen_fds) < 0 ||
                 asprintf(&extra[n++], "LISTEN_PID=%d", (int)getpid()) < 0 ||
                 (conf.listen_fdnames && asprintf(&extra[n++], "LISTEN_FDNAMES=%s", conf.listen_fdnames) < 0)))
    return NULL;
  for (char **e = a->env.v; *e; e++) {
    int ours = 0; /* the image's own value of a name we set would be a lie */
    for (size_t i = 0; i < n; i++) ours |= !strncmp(*e, extra[i], (size_t)(strchr(extra[i], '=') - extra[i] + 1));
    if (!ours && strv_push(&env, *e) < 0) return NULL;
  }
  for (size_t i = 0; i < n; i++)
    if (strv_push(&env, extra[i]) < 0) return NULL;
  for (long fd = 3; listen && fd < 3 + conf.listen_fds; fd++)
    if (fcntl((int)fd, F_SETFD, 0) < 0) return isolate_fail(errno, "can't hand the listening socket %ld on", fd), NULL;
  return env.v;
}

/* The cgroup hierarchies nspawn mounted for the container, which each app gets its own view of. */
static void read_hierarchies(void) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  char *line = NULL, mnt[PATH_MAX], type[16], opts[1024];
  size_t cap = 0;
  if (!f) warn("can't read /proc/self/mountinfo: %s", strerror(errno)), exit(EXIT_INTERNAL);
  while (getline(&line, &cap, f) > 0) {
    /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPEROPTIONS */
    char *sep = strstr(line, " - ");
    if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 || sscanf(sep + 3, "%15s %*s %1023s", type, opts) != 2)
      continue;
    if (strcmp(type, "cgroup") && strcmp(type, "cgroup2")) continue;
    if (strncmp(mnt, "/sys/fs/cgroup", 14) || (mnt[14] && mnt[14] != '/')) continue;
    /* The superblock's options name the hierarchy; drop rw and the v1 release_agent (the host's). */
    char keep[sizeof opts] = "", *save = NULL;
    for (char *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save))
      if (strcmp(o, "rw") && strcmp(o, "ro") && strncmp(o, "release_agent=", 14))
        snprintf(keep + strlen(keep), sizeof keep - strlen(keep), "%s%s", *keep ? "," : "", o);
    struct hierarchy *h = realloc(hierarchies, (nhierarchies + 1) * sizeof *h);
    const char *dir = mnt[14] ? mnt + 15 : "";
    if (!h || !(h[nhierarchies] = (struct hierarchy){strdup(dir), strdup(type), strdup(keep)}).opts)
      warn("out of memory"), exit(EXIT_INTERNAL);
    hierarchies = h;
    nhierarchies++;
  }
  free(line);
  fclose(f);
}

int main(int argc, char **argv) {
  prctl(PR_SET_DUMPABLE, 0);
  if (argc != 2) return warn("usage: supervisor /rkt/supervisor.conf"), EXIT_INTERNAL;
  if (conf_load(argv[1], &conf) < 0) return warn("%s", isolate_error), EXIT_INTERNAL;
  if (!(runs = calloc(conf.napps + 1, sizeof *runs))) return warn("out of memory"), EXIT_INTERNAL;
  read_hierarchies();
  set_pod_hostname();
  if (seal_stage1(&conf, argv[1]) < 0) return warn("%s", isolate_error), EXIT_INTERNAL;
  struct stat st;
  have_console = stat("/dev/console", &st) == 0 && S_ISCHR(st.st_mode);
  /* The apps die with us (we are PID 1 of the pod's PID namespace, or in its VM): one that started and has no
   * status once the pod has exited was killed with us, and the host may say so (docs/stage1.md). */
  int die_with = open("/rkt/status/.apps-die-with-supervisor", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  if (die_with >= 0) close(die_with);

  /* Blocked, the signals wait for sigtimedwait; PID 1 would otherwise ignore those sent from inside. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGIO); /* a datagram on a notification socket */
  sigprocmask(SIG_BLOCK, &set, NULL);
  if (notify_setup() < 0) return warn("%s", isolate_error), EXIT_INTERNAL;

  if (conf.mutable && control_listen(&set) < 0) return warn("%s", isolate_error), EXIT_INTERNAL;
  for (size_t i = 0; i < conf.napps; i++) {
    touch_status(&conf.apps[i], "-created");
    if (stopping) runs[i].state = DONE;
    else begin_app(i);
  }
  for (;;) {
    pid_t pid;
    int status;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) logger_reaped(pid), reaped(pid, status);
    size_t done = 0; /* an app of a mutable pod that was never started (PENDING) holds nothing up */
    for (size_t i = 0; i < conf.napps; i++) done += runs[i].state == DONE || runs[i].state == PENDING;
    if (done == conf.napps && (!conf.mutable || stopping)) return logger_wait(2000), exit_code; /* last lines logged */

    struct timespec now, left = {0, 0};
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long ns = (deadline.tv_sec - now.tv_sec) * 1000000000LL + (deadline.tv_nsec - now.tv_nsec);
    if (ns > 0) left = (struct timespec){ns / 1000000000, ns % 1000000000};
    int sig = conf.mutable ? control_wait() : sigtimedwait(&set, NULL, stopping ? &left : NULL);
    if (sig == SIGTERM || sig == SIGINT) stop();
    if (sig == SIGIO) notify_drain();
    if (sig < 0 && errno == EAGAIN) { /* the grace period is over */
      kill(-1, SIGKILL);
      arm_deadline(); /* again, for the post-stop handlers started since */
    }
  }
}
