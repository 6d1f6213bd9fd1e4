/*
 * kvm-init: PID 1 of a stage1-kvm guest (stage1-kvm/README.md "In the guest").
 *
 * The kernel mounts the pod's stage1 rootfs from the host over 9p as / and runs us. We mount /proc, /sys,
 * /dev (devtmpfs), /dev/pts and the cgroup2 hierarchy, find the virtio-serial ports by name, tell the host
 * we are up ("booted" on org.rkt.ctl), give the pod's stdio the two consoles (hvc0: stdout; hvc1: stderr),
 * or when interactive a pty relayed to hvc0 (term_open), and run /kvm/start.sh with the guest's
 * busybox: it configures the network, makes the apps' cgroups and opens their descriptors, then execs
 * the supervisor (stage1-supervisor/), which runs the apps exactly as under nspawn and records their
 * statuses in /rkt (on the host, through 9p). With rkt.notify=1 the supervisor's NOTIFY_SOCKET is ours, and its
 * READY=1 goes to the host as "ready" on org.rkt.ctl (notify_open). When it exits we report "exit N" on org.rkt.ctl and reboot,
 * which ends QEMU (-no-reboot). Meanwhile we reap orphans, pass "term" from the host on to the supervisor as
 * SIGTERM and "winsize ROWS COLS" to the pty, and serve `rkt enter` on org.rkt.agent: one session at a time, handled by
 * a child (agent_session) so this loop never blocks.
 *
 * Agent frames, both ways: a type byte, a 4-byte big-endian length, the payload.
 *   host → guest: 'R' NUL-terminated tokens APP, TTY(0|1), ROWS, COLS, TERM, ARG...; 'I' stdin bytes; 'E' stdin
 *                 closed; 'W' "ROWS COLS".
 *   guest → host: 'O' stdout bytes; 'e' stderr bytes; 'X' the exit code in decimal, last.
 * A session may instead start with 'M' APP, DISK (NUL-terminated): loop-mount the raw ext4 file DISK (relative
 * to the guest's root) on /opt/stage2/APP/rootfs for an app added to the running pod (agent_mount); the answer
 * is 'X' 0, or 'e' and 'X' 254.
 * Or with 'C' VERB, APP, CGROUP, ARG... (NUL-terminated): relay the line "VERB APP" to the supervisor's control socket
 * (a mutable pod's `rkt app add|start|stop|rm`, agent_control); the answer is 'X' 0, or 'e' and 'X' 254.
 * An 'R' session runs the supervisor's /enter helper with the app's guest PID (/rkt/pids/APP), so an entered
 * command gets exactly the app's namespaces, cgroup, credentials, capabilities and seccomp filter.
 */
#define _GNU_SOURCE
#include "io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define EXIT_INTERNAL 254

static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char buf[512];
  int n = snprintf(buf, sizeof buf, "kvm-init: ");
  n += vsnprintf(buf + n, sizeof buf - n, fmt, ap);
  va_end(ap);
  if (n > (int)sizeof buf - 2) n = sizeof buf - 2;
  buf[n++] = '\n';
  /* stderr once it is the pod's; the kernel's console (the host's console log) in any case */
  (void)!write(2, buf, n);
  int k = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
  if (k >= 0) (void)!write(k, buf, n), close(k);
}

/* With rkt.debug=1 (rkt --debug): milestones on the console (the pod's console log), with the uptime. */
static int debug;
static void trace(const char *what) {
  char up[32] = "?";
  int u = debug ? open("/proc/uptime", O_RDONLY | O_CLOEXEC) : -1;
  if (u < 0) return;
  ssize_t n = read(u, up, sizeof up - 1);
  close(u);
  up[n > 0 ? strcspn(up, " ") : 1] = '\0';
  int k = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
  if (k >= 0) dprintf(k, "[%s] kvm-init: %s\n", up, what), close(k);
}

static void __attribute__((noreturn)) halt(void) {
  sync();
  reboot(RB_AUTOBOOT); /* reboot=t: a triple fault, and QEMU (-no-reboot) exits */
  for (;;) pause();
}

static void must_mount(const char *src, const char *dir, const char *type, unsigned long flags, const char *data) {
  mkdir(dir, 0755);
  if (mount(src, dir, type, flags, data) < 0 && errno != EBUSY) say("can't mount %s on %s: %s", type, dir, strerror(errno)), halt();
}

/* The /dev node of the virtio-serial port the host named `name`, opened, or -1. */
static int open_port(const char *name) {
  DIR *d = opendir("/sys/class/virtio-ports");
  struct dirent *e;
  int fd = -1;
  while (d && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char p[300], buf[128] = "";
    snprintf(p, sizeof p, "/sys/class/virtio-ports/%s/name", e->d_name);
    int f = open(p, O_RDONLY | O_CLOEXEC);
    if (f < 0) continue;
    ssize_t n = read(f, buf, sizeof buf - 1);
    close(f);
    if (n > 0 && buf[n - 1] == '\n') n--;
    if (n < 0 || (size_t)n != strlen(name) || memcmp(buf, name, n)) continue;
    snprintf(p, sizeof p, "/dev/%s", e->d_name);
    fd = open(p, O_RDWR | O_CLOEXEC | O_NONBLOCK);
    break;
  }
  if (d) closedir(d);
  return fd;
}


/* A kernel command-line parameter's value (rkt.NAME=VALUE), or NULL. */
static const char *param(const char *name) {
  static char cmdline[4096];
  if (!cmdline[0]) {
    int f = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
    ssize_t n = f < 0 ? -1 : read(f, cmdline, sizeof cmdline - 1);
    if (f >= 0) close(f);
    cmdline[n > 0 ? n : 0] = '\0';
  }
  size_t len = strlen(name);
  for (char *p = cmdline; (p = strstr(p, name));) {
    if ((p == cmdline || p[-1] == ' ') && p[len] == '=') {
      static char value[256];
      size_t n = strcspn(p + len + 1, " \n");
      snprintf(value, sizeof value, "%.*s", (int)n, p + len + 1);
      return value;
    }
    p += len;
  }
  return NULL;
}

static void make_raw(int fd) {
  struct termios t;
  if (tcgetattr(fd, &t) == 0) cfmakeraw(&t), tcsetattr(fd, TCSANOW, &t);
}

/* ---- the enter agent ---------------------------------------------------------------------------------- */

static int read_full(int fd, void *buf, size_t len) {
  char *p = buf;
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
      struct pollfd r = {fd, POLLIN, 0};
      if (poll(&r, 1, -1) > 0 && (r.revents & (POLLHUP | POLLERR)) && !(r.revents & POLLIN)) return -1;
      continue;
    }
    if (n <= 0) return -1;
    p += n, len -= n;
  }
  return 0;
}

static int send_frame(int fd, char type, const void *data, uint32_t len) {
  unsigned char head[5] = {(unsigned char)type, len >> 24, len >> 16, len >> 8, len};
  return write_all(fd, head, 5) < 0 || write_all(fd, data, len) < 0 ? -1 : 0;
}

/* What a failed session must undo first (agent_control: an added app's mounts and cgroup), or NULL. */
static void (*undo)(void);

static void __attribute__((noreturn)) session_fail(int port, const char *fmt, ...) {
  if (undo) undo();
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg, sizeof msg - 1, fmt, ap);
  va_end(ap);
  if (n > (int)sizeof msg - 2) n = sizeof msg - 2;
  msg[n++] = '\n';
  send_frame(port, 'e', msg, n);
  send_frame(port, 'X', "254", 3);
  _exit(0);
}

/* ---- apps added to the running pod: their disks ------------------------------------------------------ */

/* A name of one path component: not empty, not . or .., no slash, at most 255 bytes. */
static int component_ok(const char *s) {
  return *s && strlen(s) <= 255 && strcmp(s, ".") && strcmp(s, "..") && !strchr(s, '/');
}

/* A path relative to the guest's root, in a directory, with no .. component. */
static int relative_ok(const char *s) {
  if (!*s || *s == '/' || !strchr(s, '/')) return 0;
  for (const char *p = s; p; p = strchr(p, '/') ? strchr(p, '/') + 1 : NULL)
    if (!strncmp(p, "..", 2) && (p[2] == '/' || !p[2])) return 0;
  return 1;
}

/*
 * Opens `file` (DIR/NAME, relative to "/") read-write. The supervisor made the stage1's root read-only
 * (seal_stage1 in stage1-supervisor/native/supervisor.c), so the open goes through a writable bind of DIR,
 * made for it and detached after: the descriptor keeps its write access.
 */
static int open_rw(const char *file) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", file);
  char *slash = strrchr(dir, '/');
  if (!slash) return errno = EINVAL, -1;
  *slash = '\0';
  if (mount(dir, dir, NULL, MS_BIND, NULL) < 0) return -1;
  int fd = mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND, NULL) < 0 ? -1 : open(file, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  int e = errno;
  umount2(dir, MNT_DETACH);
  errno = e;
  return fd;
}

/*
 * Attaches `file` to a free loop device (detached again when its last user goes: the mount below) and mounts
 * it as ext4 on `target`. Returns 0, or -1 with errno and *what naming the failed step.
 */
static int loop_mount(const char *file, const char *target, const char **what) {
  int img = open_rw(file);
  if (img < 0) return *what = "open the disk", -1;
  char dev[32];
  int loop = -1;
  for (int tries = 0; loop < 0 && tries < 5; tries++) { /* another attach may take the free device first */
    int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
    int n = ctl < 0 ? -1 : ioctl(ctl, LOOP_CTL_GET_FREE);
    if (ctl >= 0) close(ctl);
    if (n < 0) return close(img), *what = "find a free loop device", -1;
    snprintf(dev, sizeof dev, "/dev/loop%d", n);
    loop = open(dev, O_RDWR | O_CLOEXEC);
    struct loop_config cfg = {.fd = (unsigned)img, .info = {.lo_flags = LO_FLAGS_AUTOCLEAR}};
    if (loop >= 0 && ioctl(loop, LOOP_CONFIGURE, &cfg) < 0) {
      int e = errno;
      close(loop), loop = -1;
      if (e != EBUSY) return close(img), errno = e, *what = "attach the loop device", -1;
    }
  }
  close(img);
  if (loop < 0) return *what = "attach the loop device", -1;
  int r = mount(dev, target, "ext4", 0, NULL);
  int e = errno;
  close(loop); /* the mount holds the device now; without it, AUTOCLEAR detaches it */
  return r < 0 ? (errno = e, *what = "mount it", -1) : 0;
}

/*
 * An 'M' request (`rkt app add`, docs/stage1.md): NUL-terminated APP and DISK (a raw ext4 file, relative to the
 * guest's root: the pod's stage1 rootfs, where the host wrote it). Mounts DISK on /opt/stage2/APP/rootfs (a
 * directory the host made) and answers 'X' 0, or an 'e' message and 'X' 254.
 */
static void __attribute__((noreturn)) agent_mount(int port, uint32_t len) {
  char req[4096 + 1];
  if (len > 4096 || read_full(port, req, len) < 0) _exit(0);
  req[len] = '\0';
  const char *app = req, *disk = req + strlen(req) + 1;
  if (disk >= req + len || !component_ok(app) || !relative_ok(disk))
    session_fail(port, "mount: malformed request (APP, then DISK relative to the guest's root)");
  char target[4096 + 32]; /* made by the host: the guest's root is read-only */
  snprintf(target, sizeof target, "/opt/stage2/%s/rootfs", app);
  const char *what = "";
  if (chdir("/") < 0 || loop_mount(disk, target, &what) < 0)
    session_fail(port, "mount: can't %s (%s on %s): %s", what, disk, target, strerror(errno));
  trace("mounted an added app's disk");
  send_frame(port, 'X', "0", 1);
  _exit(0);
}

/* ---- mutable pods: the supervisor's control socket --------------------------------------------------- */

/* The supervisor's control socket in a mutable pod (stage1-supervisor/README.md "Mutable pods"), named to it by
 * RKT_CONTROL_SOCKET: in the guest's devtmpfs, since 9p (the root, /rkt with it) cannot hold a socket. */
#define CONTROL_SOCKET "/dev/rkt-control.sock"

/* Runs the host's set-up script of an added app (`script`: the app's cgroup with its limits, its mount plan) with
 * the guest's busybox; on failure, answers with what it printed. */
static void run_add_script(int port, const char *app, const char *script) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) < 0) session_fail(port, "add: pipe: %s", strerror(errno));
  pid_t child = fork();
  if (child == 0) {
    dup2(out[1], 1), dup2(out[1], 2);
    execl("/kvm/busybox", "sh", "-e", script, (char *)NULL);
    dprintf(2, "can't run %s: %s\n", script, strerror(errno));
    _exit(EXIT_INTERNAL);
  }
  close(out[1]);
  char said[2048];
  size_t n = 0;
  ssize_t r;
  while ((r = read(out[0], said + n, sizeof said - 1 - n)) > 0 || (r < 0 && errno == EINTR)) n += r > 0 ? r : 0;
  said[n] = '\0';
  int status = 0;
  while (child > 0 && waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (child < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
    session_fail(port, "add: setting app %s up in the guest failed: %s", app, n ? said : "no message");
}

/* The app of a control request: its cgroup, the mount points to detach (its root, its volumes) and the
 * descriptors sent with an add. */
static const char *ctl_cgroup, *const *ctl_mounts;
static size_t ctl_nmounts;
static int ctl_fds[2] = {-1, -1};

/* Takes the app's mounts (with whatever is below them) and its cgroup out of the guest: after rm, or when an add
 * fails. An added disk's loop device goes with its last user (AUTOCLEAR). */
static void detach_app(void) {
  for (int k = 0; k < 2; k++)
    if (ctl_fds[k] >= 0) close(ctl_fds[k]), ctl_fds[k] = -1;
  for (size_t i = 0; i < ctl_nmounts; i++)
    if (*ctl_mounts[i] == '/') umount2(ctl_mounts[i], MNT_DETACH);
  rmdir(ctl_cgroup);
}

/*
 * A 'C' request (a mutable pod's `rkt app add|start|stop|rm`, stage1-kvm/README.md "Mutable pods"):
 * NUL-terminated VERB, APP, CGROUP (the app's cgroup directory in the guest), for add the app's set-up script, then
 * the app's mount points (its root, its volumes). We relay the line "VERB APP" to the supervisor's control socket
 * from this child of init, which is in the guest's root cgroup (outside every app's), where the supervisor
 * accepts requests. `add` first runs the set-up script and sends the app's cgroup.procs and memory.events with
 * the line (SCM_RIGHTS, numbered from 3 in the order sent: the added configuration's cgroup-fd 3 and oom-fd 4).
 * After a successful `rm`, or a failed `add`, the mount points are detached and the cgroup removed (detach_app).
 * The answer is 'X' 0 for the supervisor's "ok", else its message as 'e' and 'X' 254.
 */
static void __attribute__((noreturn)) agent_control(int port, uint32_t len) {
  char req[4096 + 1];
  if (len > 4096 || read_full(port, req, len) < 0) _exit(0);
  req[len] = '\0';
  const char *tok[64];
  size_t ntok = 0;
  for (size_t off = 0; off < len && ntok < 64; off += strlen(req + off) + 1) tok[ntok++] = req + off;
  const char *verb = tok[0], *app = ntok > 1 ? tok[1] : "", *cgroup = ntok > 2 ? tok[2] : "";
  const size_t add = !strcmp(verb, "add");
  if (ntok < 3 + add || !component_ok(app) || *cgroup != '/' || strstr(cgroup, "/..") ||
      (!add && strcmp(verb, "start") && strcmp(verb, "stop") && strcmp(verb, "rm")))
    session_fail(port, "control: malformed request (add|start|stop|rm, APP, its cgroup directory, ...)");
  ctl_cgroup = cgroup, ctl_mounts = tok + 3 + add, ctl_nmounts = ntok - 3 - add;
  if (add) {
    undo = detach_app;
    run_add_script(port, app, tok[3]);
    char file[4096 + 32];
    snprintf(file, sizeof file, "%s/cgroup.procs", cgroup);
    ctl_fds[0] = open(file, O_WRONLY | O_CLOEXEC);
    snprintf(file, sizeof file, "%s/memory.events", cgroup);
    ctl_fds[1] = open(file, O_RDONLY | O_CLOEXEC);
    if (ctl_fds[0] < 0 || ctl_fds[1] < 0) session_fail(port, "add: can't open %s: %s", file, strerror(errno));
  }
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX, .sun_path = CONTROL_SOCKET};
  if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof addr) < 0)
    session_fail(port, "the pod's supervisor does not answer on %s (%s): is the pod mutable?", CONTROL_SOCKET,
                 strerror(errno));
  char line[4096 + 16];
  struct iovec iov = {line, (size_t)snprintf(line, sizeof line, "%s %s\n", verb, app)};
  union {
    char buf[CMSG_SPACE(sizeof ctl_fds)];
    struct cmsghdr align;
  } cm;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (add) {
    msg.msg_control = cm.buf, msg.msg_controllen = sizeof cm.buf;
    struct cmsghdr *h = CMSG_FIRSTHDR(&msg);
    h->cmsg_level = SOL_SOCKET, h->cmsg_type = SCM_RIGHTS, h->cmsg_len = CMSG_LEN(sizeof ctl_fds);
    memcpy(CMSG_DATA(h), ctl_fds, sizeof ctl_fds);
  }
  if (sendmsg(s, &msg, MSG_NOSIGNAL) != (ssize_t)iov.iov_len) session_fail(port, "control: send: %s", strerror(errno));
  char answer[4096];
  size_t n = 0;
  ssize_t r;
  while (n < sizeof answer - 1 && (r = read(s, answer + n, sizeof answer - 1 - n)) != 0) {
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) break;
    n += r;
    if (memchr(answer, '\n', n)) break;
  }
  answer[n] = '\0';
  answer[strcspn(answer, "\n")] = '\0';
  if (strcmp(answer, "ok")) session_fail(port, "%s", !strncmp(answer, "error ", 6) ? answer + 6 : "the supervisor gave no answer");
  if (!strcmp(verb, "rm")) detach_app();
  trace("relayed a control request");
  send_frame(port, 'X', "0", 1);
  _exit(0);
}

/* One `rkt enter`, in a child of init: read the request, run /enter, relay until it exits. */
static void __attribute__((noreturn)) agent_session(int port) {
  signal(SIGPIPE, SIG_IGN); /* a command that exits before reading its stdin */
  unsigned char head[5];
  if (read_full(port, head, 5) < 0) _exit(0);
  uint32_t len = (uint32_t)head[1] << 24 | head[2] << 16 | head[3] << 8 | head[4];
  if (head[0] == 'M') agent_mount(port, len);
  if (head[0] == 'C') agent_control(port, len);
  if (head[0] != 'R' || len > 1 << 20) _exit(0); /* not a request: a stale byte stream, drop it */
  char *req = malloc(len + 1);
  if (!req || read_full(port, req, len) < 0) _exit(0);
  req[len] = '\0';
  char *tok[4096];
  size_t ntok = 0;
  for (size_t off = 0; off < len && ntok < 4095; off += strlen(req + off) + 1) tok[ntok++] = req + off;
  if (ntok < 6) session_fail(port, "enter: malformed request");
  const char *app = tok[0];
  int tty = !strcmp(tok[1], "1");
  struct winsize ws = {.ws_row = (unsigned short)atoi(tok[2]), .ws_col = (unsigned short)atoi(tok[3])};

  char pidfile[300], pidbuf[32] = "";
  snprintf(pidfile, sizeof pidfile, "/rkt/pids/%s", app);
  int pf = strchr(app, '/') ? -1 : open(pidfile, O_RDONLY | O_CLOEXEC);
  ssize_t pn = pf < 0 ? -1 : read(pf, pidbuf, sizeof pidbuf - 1);
  if (pf >= 0) close(pf);
  if (pn <= 0) session_fail(port, "enter: app %s is not running", app);
  pidbuf[pn] = '\0';
  pidbuf[strcspn(pidbuf, "\n")] = '\0';

  /* An app added to the running pod has a configuration of its own (stage1-supervisor/README.md "Mutable pods"). */
  char conf[300];
  snprintf(conf, sizeof conf, "/rkt/supervisor.d/%s.conf", app);
  if (access(conf, F_OK) < 0) snprintf(conf, sizeof conf, "/rkt/supervisor.conf");
  char *argv[4096 + 8];
  size_t a = 0;
  argv[a++] = "/enter", argv[a++] = "--conf", argv[a++] = conf, argv[a++] = "--app";
  argv[a++] = (char *)app, argv[a++] = "--pid", argv[a++] = pidbuf, argv[a++] = "--";
  for (size_t i = 5; i < ntok; i++) argv[a++] = tok[i];
  argv[a] = NULL;
  /* /enter gives the command the caller's TERM (tok[4], empty when it had none), not ours. */
  char term[256];
  snprintf(term, sizeof term, "TERM=%s", tok[4]);
  char *envp[] = {*tok[4] ? term : NULL, NULL};

  int master = -1, in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  pid_t child;
  if (tty) {
    child = forkpty(&master, NULL, NULL, &ws);
  } else {
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
      session_fail(port, "enter: pipe: %s", strerror(errno));
    child = fork();
    if (child == 0) dup2(in[0], 0), dup2(out[1], 1), dup2(err[1], 2);
  }
  if (child < 0) session_fail(port, "enter: fork: %s", strerror(errno));
  if (child == 0) {
    execve(argv[0], argv, envp);
    dprintf(2, "enter: can't run /enter: %s\n", strerror(errno));
    _exit(EXIT_INTERNAL);
  }
  int to_child = tty ? master : in[1];
  if (!tty) close(in[0]), close(out[1]), close(err[1]);
  int outs[2] = {tty ? master : out[0], tty ? -1 : err[0]};
  const char types[2] = {'O', 'e'};
  int open_outs = tty ? 1 : 2;
  uint32_t want = 0; /* bytes of the current 'I' frame still to read */
  unsigned char fh[5];
  size_t fhn = 0;
  char ftype = 0;
  char buf[16384];
  while (open_outs > 0) {
    struct pollfd p[3] = {{port, POLLIN, 0}, {outs[0], POLLIN, 0}, {outs[1], POLLIN, 0}};
    if (poll(p, 3, -1) < 0 && errno != EINTR) break;
    if (p[0].revents & POLLIN) {
      ssize_t n = read(port, want ? buf : (char *)fh + fhn, want ? (want < sizeof buf ? want : sizeof buf) : 5 - fhn);
      if (n > 0 && want) {
        if ((ftype == 'I') && to_child >= 0) write_all(to_child, buf, n);
        want -= n;
      } else if (n > 0 && (fhn += n) == 5) {
        fhn = 0;
        ftype = fh[0];
        want = (uint32_t)fh[1] << 24 | fh[2] << 16 | fh[3] << 8 | fh[4];
        if (ftype == 'E' && !tty && to_child >= 0) close(to_child), to_child = -1;
        if (ftype == 'W' && tty && want < sizeof buf && read_full(port, buf, want) == 0) {
          buf[want] = '\0';
          want = 0;
          if (sscanf(buf, "%hu %hu", &ws.ws_row, &ws.ws_col) == 2) ioctl(master, TIOCSWINSZ, &ws);
        }
      }
    } else if (p[0].revents & (POLLHUP | POLLERR)) {
      kill(child, SIGKILL); /* the host went away: so does the command */
      break;
    }
    for (int i = 0; i < 2; i++) {
      if (outs[i] < 0 || !(p[i + 1].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(outs[i], buf, sizeof buf);
      if (n > 0) send_frame(port, types[i], buf, n);
      else if (n == 0 || errno != EINTR) close(outs[i]), outs[i] = -1, open_outs--; /* EIO: the pty's last close */
    }
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  char code[16];
  int n = snprintf(code, sizeof code, "%d", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  send_frame(port, 'X', code, n);
  _exit(0);
}

/* ---- the interactive app's terminal ------------------------------------------------------------------- */

/* hvc0 is a console, not a terminal the app could own: an interactive pod gets a pty of the guest's devpts
 * instead (in the app's /dev/pts, so `tty` names it), and PID 1 relays its master to and from hvc0, which
 * stays raw so the pty's own line discipline is the only one. Returns the slave, or -1. */
static int term_master = -1, term_con = -1;
static int term_open(int con) {
  int slave;
  if (openpty(&term_master, &slave, NULL, NULL, NULL) < 0) return say("can't allocate a pty: %s", strerror(errno)), -1;
  fcntl(term_master, F_SETFD, FD_CLOEXEC);
  fcntl(term_master, F_SETFL, O_NONBLOCK);
  term_con = fcntl(con, F_DUPFD_CLOEXEC, 3);
  make_raw(term_con);
  return slave;
}

/* "winsize ROWS COLS" from the host: the pty's size, and SIGWINCH to its foreground group. */
static void term_winsize(const char *line) {
  struct winsize ws = {0};
  if (sscanf(line, "winsize %hu %hu", &ws.ws_row, &ws.ws_col) == 2) ioctl(term_master >= 0 ? term_master : 0, TIOCSWINSZ, &ws);
}

/* Moves what is there between hvc0 and the master; the end of the master (EIO: no slave left) ends it. */
static void term_relay(short con_events, short master_events) {
  char buf[4096];
  if (con_events & POLLIN) {
    ssize_t n = read(term_con, buf, sizeof buf);
    if (n > 0) write_all(term_master, buf, n);
  }
  if (master_events & (POLLIN | POLLHUP | POLLERR)) {
    ssize_t n;
    while ((n = read(term_master, buf, sizeof buf)) > 0) write_all(term_con, buf, n);
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) close(term_master), term_master = -1;
  }
}

/* ---- systemd's readiness --------------------------------------------------------------------------------- */

/* Where the supervisor's NOTIFY_SOCKET is (rkt.notify=1: the host's unit waits for READY=1): in the guest's
 * devtmpfs, since 9p (the root) cannot hold a socket; the apps get a /dev of their own. */
#define NOTIFY_SOCKET_PATH "/dev/rkt-notify"

/* The datagram socket the supervisor reports readiness to, bound, or -1. */
static int notify_open(void) {
  int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX, .sun_path = NOTIFY_SOCKET_PATH};
  unlink(NOTIFY_SOCKET_PATH);
  if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0) {
    say("can't listen on %s: %s (the host's unit will not be told the pod is ready)", NOTIFY_SOCKET_PATH, strerror(errno));
    if (s >= 0) close(s);
    return -1;
  }
  return s;
}

/* Reads what the supervisor sent; returns 1 when a datagram said READY=1 (one assignment a line, sd_notify's). */
static int notify_ready(int s) {
  char buf[4096];
  ssize_t n;
  int ready = 0;
  while ((n = recv(s, buf, sizeof buf - 1, 0)) > 0) {
    buf[n] = '\0';
    for (char *line = buf, *end; line; line = end ? end + 1 : NULL) {
      end = strchr(line, '\n');
      if (end) *end = '\0';
      if (!strcmp(line, "READY=1")) ready = 1;
    }
  }
  return ready;
}

/* ---- PID 1 ------------------------------------------------------------------------------------------- */

int main(void) {
  if (getpid() != 1) return fprintf(stderr, "kvm-init: not PID 1\n"), EXIT_INTERNAL;
  must_mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  must_mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  must_mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
  must_mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
  must_mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  must_mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  unlink("/dev/ptmx");
  (void)!symlink("pts/ptmx", "/dev/ptmx");

  int ctl = open_port("org.rkt.ctl");
  if (ctl < 0) say("no org.rkt.ctl port: the host can't be told anything"), halt();
  write_all(ctl, "booted\n", 7);
  debug = param("rkt.debug") && !strcmp(param("rkt.debug"), "1");
  trace("booted");

  const int interactive = param("rkt.interactive") && !strcmp(param("rkt.interactive"), "1");
  int con = open("/dev/hvc0", O_RDWR | O_NOCTTY), errcon = open("/dev/hvc1", O_RDWR | O_NOCTTY);
  int null = open("/dev/null", O_RDWR);
  if (con < 0 || errcon < 0 || null < 0) say("can't open the consoles: %s", strerror(errno)), halt();
  if (!interactive) make_raw(con), make_raw(errcon); /* bytes as the app wrote them: no \r added */
  int slave = interactive ? term_open(con) : -1;
  if (interactive && slave < 0) halt();
  dup2(null, 0), dup2(con, 1), dup2(interactive ? con : errcon, 2);
  if (con > 2) close(con);
  if (errcon > 2) close(errcon);
  if (null > 2) close(null);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGIO);
  sigprocmask(SIG_BLOCK, &set, NULL);
  int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);

  const int notify = param("rkt.notify") && !strcmp(param("rkt.notify"), "1") ? notify_open() : -1;
  pid_t pod = fork();
  if (pod == 0) {
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    setsid();
    if (notify >= 0) setenv("NOTIFY_SOCKET", NOTIFY_SOCKET_PATH, 1);
    setenv("RKT_CONTROL_SOCKET", CONTROL_SOCKET, 1);
    if (interactive) dup2(slave, 0), dup2(slave, 1), dup2(slave, 2), close(slave), ioctl(0, TIOCSCTTY, 1);
    execl("/kvm/busybox", "sh", "/kvm/start.sh", (char *)NULL);
    say("can't run /kvm/start.sh: %s", strerror(errno));
    _exit(EXIT_INTERNAL);
  }
  if (pod < 0) say("fork: %s", strerror(errno)), halt();
  if (slave >= 0) close(slave);

  int agent = open_port("org.rkt.agent"), agent_idle = 0, code = -1;
  pid_t session = 0;
  char line[128];
  size_t linelen = 0;
  while (code < 0) {
    /* A port with nobody on the host's side polls as hung up: wait for SIGIO (a host connected) instead. */
    struct pollfd p[6] = {{ctl, POLLIN, 0}, {sfd, POLLIN, 0}, {agent >= 0 && !session && !agent_idle ? agent : -1, POLLIN, 0},
                          {term_master >= 0 ? term_con : -1, POLLIN, 0}, {term_master, POLLIN, 0}, {notify, POLLIN, 0}};
    /* ...and look again every second, in case the host connected before O_ASYNC was set. */
    int ready = poll(p, 6, agent_idle ? 1000 : -1);
    if (ready < 0 && errno != EINTR) break;
    if (ready == 0) agent_idle = 0;
    if (p[0].revents & POLLIN) {
      ssize_t n = read(ctl, line + linelen, sizeof line - 1 - linelen);
      if (n > 0) linelen += n;
      char *nl;
      while ((nl = memchr(line, '\n', linelen))) {
        *nl = '\0';
        if (!strcmp(line, "term")) kill(pod, SIGTERM);
        else term_winsize(line);
        linelen -= nl + 1 - line;
        memmove(line, nl + 1, linelen);
      }
      if (linelen == sizeof line - 1) linelen = 0;
    }
    if (term_master >= 0) term_relay(p[3].revents, p[4].revents);
    if ((p[5].revents & POLLIN) && notify_ready(notify)) write_all(ctl, "ready\n", 6), trace("the supervisor is ready");
    if (p[2].revents & POLLIN) {
      if ((session = fork()) == 0) {
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        agent_session(agent);
      }
      if (session < 0) session = 0;
    } else if (p[2].revents & (POLLHUP | POLLERR)) {
      agent_idle = 1;
      fcntl(agent, F_SETOWN, 1);
      fcntl(agent, F_SETFL, fcntl(agent, F_GETFL) | O_ASYNC);
    }
    if (p[1].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si)
        if (si.ssi_signo == SIGIO) agent_idle = 0;
      pid_t pid;
      int status;
      while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid == session) session = 0, agent_idle = 0;
        if (pid == pod) code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), trace("the supervisor exited");
      }
    }
  }
  if (term_master >= 0) term_relay(0, POLLIN); /* what the app wrote last */
  tcdrain(1), tcdrain(2);
  trace("consoles drained");
  char msg[32];
  int n = snprintf(msg, sizeof msg, "exit %d\n", code < 0 ? EXIT_INTERNAL : code);
  write_all(ctl, msg, n);
  halt();
}
