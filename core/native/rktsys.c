/*
 * rktsys: the few kernel interfaces a Node process of rkt needs and Node 20 does not offer.
 *
 *   flock(fd, op)                      advisory locks on files and directories (store, pods)
 *   setCloexec(fd, on)                 keep the pod lock fd open across execve, or not
 *   execve(path, argv, env[, fds])     become another program, keeping our PID (stage0 -> stage1), handing
 *                                      it descriptors at 3, 4, ... (socket activation's LISTEN_FDS numbering)
 *   listXattrs/getXattr/setXattr       preserve extended attributes when rendering images
 *   mknod(path, mode, major, minor)    device nodes, when a caller allows them
 *   syncfs(fd)                         one flush for a whole rendered tree instead of one per file
 *   mount(src, target, fstype, flags, data) / umount2(target, flags)
 *                                      overlay and bind mounts of pods, without a process per mount
 *   idmapBind(src, target, first, count)
 *                                      an idmapped bind mount (--private-users: the pod's trees seen owned by
 *                                      its uid range, without a chown of every file)
 *   mountId(path)                      the ID of the mount holding path, without reading mountinfo
 *   removeTree(parent, name)           deletes parent/name recursively through directory descriptors: never
 *                                      follows a symlink, never leaves its mount, no path length limit
 *   unixRequest(dir, name, request, fds)
 *                                      one request on the stream socket dir/name, with descriptors (SCM_RIGHTS):
 *                                      sends it, returns the answer read to EOF (a mutable pod's control socket)
 *
 * Every function returns 0 (or a value) on success and -errno on failure; the TypeScript wrapper
 * (core/src/sys/native.ts) turns negative numbers into Node-style errors. No function throws.
 */
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/mount.h>
#include <sched.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define PATH_BUF 4096

static napi_value int_result(napi_env env, long long v) {
  napi_value r;
  napi_create_int64(env, (int64_t)v, &r);
  return r;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) return -EINVAL;
  return 0;
}

static int get_i32(napi_env env, napi_value v, int32_t *out) {
  return napi_get_value_int32(env, v, out) == napi_ok ? 0 : -EINVAL;
}

/* Copies a JS string into buf; -ENAMETOOLONG if it does not fit, -EINVAL if it is not a string
 * or contains a NUL byte (which would silently truncate a path). */
static int get_str(napi_env env, napi_value v, char *buf, size_t cap) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return -EINVAL;
  if (len + 1 > cap) return -ENAMETOOLONG;
  if (napi_get_value_string_utf8(env, v, buf, cap, &len) != napi_ok) return -EINVAL;
  if (strlen(buf) != len) return -EINVAL;
  return 0;
}

static napi_value Flock(napi_env env, napi_callback_info info) {
  napi_value a[2];
  int32_t fd, op;
  if (get_args(env, info, 2, a) || get_i32(env, a[0], &fd) || get_i32(env, a[1], &op)) return int_result(env, -EINVAL);
  int r;
  do r = flock(fd, op); while (r < 0 && errno == EINTR);
  return int_result(env, r < 0 ? -errno : 0);
}

static napi_value SetCloexec(napi_env env, napi_callback_info info) {
  napi_value a[2];
  int32_t fd;
  bool on;
  if (get_args(env, info, 2, a) || get_i32(env, a[0], &fd) || napi_get_value_bool(env, a[1], &on) != napi_ok)
    return int_result(env, -EINVAL);
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0) return int_result(env, -errno);
  flags = on ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC);
  return int_result(env, fcntl(fd, F_SETFD, flags) < 0 ? -errno : 0);
}

/* Reads a JS array of strings into a NULL-terminated, malloc'd vector. */
static char **get_str_array(napi_env env, napi_value arr, int *err) {
  uint32_t n = 0;
  bool is_array = false;
  if (napi_is_array(env, arr, &is_array) != napi_ok || !is_array || napi_get_array_length(env, arr, &n) != napi_ok) {
    *err = -EINVAL;
    return NULL;
  }
  char **v = calloc(n + 1, sizeof(char *));
  if (!v) {
    *err = -ENOMEM;
    return NULL;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value el;
    size_t len = 0;
    if (napi_get_element(env, arr, i, &el) != napi_ok ||
        napi_get_value_string_utf8(env, el, NULL, 0, &len) != napi_ok) {
      *err = -EINVAL;
      return v;
    }
    v[i] = malloc(len + 1);
    if (!v[i]) {
      *err = -ENOMEM;
      return v;
    }
    napi_get_value_string_utf8(env, el, v[i], len + 1, &len);
    if (strlen(v[i]) != len) {
      *err = -EINVAL; /* an embedded NUL would truncate an argument */
      return v;
    }
  }
  return v;
}

static void free_str_array(char **v) {
  if (!v) return;
  for (char **p = v; *p; p++) free(*p);
  free(v);
}

/* Reads a JS array of descriptor numbers; NULL (and *n = 0) for an empty array. */
static int *get_int_array(napi_env env, napi_value arr, uint32_t *n, int *err) {
  bool is_array = false;
  *n = 0;
  if (napi_is_array(env, arr, &is_array) != napi_ok || !is_array || napi_get_array_length(env, arr, n) != napi_ok) {
    *err = -EINVAL;
    return NULL;
  }
  if (*n == 0) return NULL;
  int *v = calloc(*n, sizeof(int));
  if (!v) {
    *err = -ENOMEM;
    return NULL;
  }
  for (uint32_t i = 0; i < *n; i++) {
    napi_value el;
    int32_t fd;
    if (napi_get_element(env, arr, i, &el) != napi_ok || get_i32(env, el, &fd) || fd < 0) {
      *err = -EINVAL;
      return v;
    }
    v[i] = fd;
  }
  return v;
}

/*
 * The descriptors handed to the new program: fds[i] becomes descriptor 3+i, without close-on-exec. Every
 * source is first copied above the range (close-on-exec), so placing one never overwrites another still to
 * be placed, and whatever Node had open in the range (libuv's own descriptors) is saved the same way, to be
 * put back if execve fails. Returns 0 or -errno, having changed nothing on failure.
 */
struct fd_plan {
  uint32_t n;
  int *copy;  /* copies of the sources, above the range */
  int *saved; /* what descriptor 3+i was before, or -1 */
  int *saved_fd_flags;
};

static void fd_plan_undo(struct fd_plan *p) {
  for (uint32_t i = 0; i < p->n; i++) {
    int target = 3 + (int)i;
    if (p->saved[i] >= 0) {
      dup3(p->saved[i], target, (p->saved_fd_flags[i] & FD_CLOEXEC) ? O_CLOEXEC : 0);
      close(p->saved[i]);
      p->saved[i] = -1;
    } else {
      close(target);
    }
  }
}

static void fd_plan_free(struct fd_plan *p) {
  for (uint32_t i = 0; p->copy && i < p->n; i++)
    if (p->copy[i] >= 0) close(p->copy[i]);
  for (uint32_t i = 0; p->saved && i < p->n; i++)
    if (p->saved[i] >= 0) close(p->saved[i]);
  free(p->copy);
  free(p->saved);
  free(p->saved_fd_flags);
}

static int fd_plan_apply(struct fd_plan *p, const int *fds) {
  int above = 3 + (int)p->n;
  p->copy = malloc(p->n * sizeof(int));
  p->saved = malloc(p->n * sizeof(int));
  p->saved_fd_flags = malloc(p->n * sizeof(int));
  if (!p->copy || !p->saved || !p->saved_fd_flags) return -ENOMEM;
  for (uint32_t i = 0; i < p->n; i++) p->copy[i] = p->saved[i] = -1;
  for (uint32_t i = 0; i < p->n; i++) {
    p->copy[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, above);
    if (p->copy[i] < 0) return -errno;
  }
  for (uint32_t i = 0; i < p->n; i++) {
    p->saved_fd_flags[i] = fcntl(3 + (int)i, F_GETFD);
    if (p->saved_fd_flags[i] < 0) continue; /* nothing open there */
    p->saved[i] = fcntl(3 + (int)i, F_DUPFD_CLOEXEC, above);
    if (p->saved[i] < 0) return -errno;
  }
  for (uint32_t i = 0; i < p->n; i++) {
    if (dup2(p->copy[i], 3 + (int)i) < 0) {
      int err = -errno;
      fd_plan_undo(p);
      return err;
    }
  }
  return 0;
}

/*
 * Replaces this process with another program, as rkt's stage0 does when it hands a pod to stage1.
 * Node leaves state behind that a new program must not inherit: SIGPIPE ignored (ignored signals
 * survive execve), blocked signals, and O_NONBLOCK on the stdio descriptors (shared with the
 * terminal or pipe: the next program would see EAGAIN). Node also marks descriptors 0-2
 * close-on-exec at startup: the new program would start without stdin, stdout and stderr. Reset all
 * of those first. Every other descriptor Node opened is close-on-exec too; callers clear that flag on
 * the ones to pass on (the pod lock), or name them in `fds` to have them at 3, 4, ... (fd_plan).
 * Returns only on failure, with -errno, after putting all of that back: the caller goes on running
 * Node, whose signal handlers (process.on('SIGINT'), libuv's SIGCHLD) and non-blocking stdio must work.
 * All signals stay blocked while dispositions change, so no handler runs half-way; a signal that
 * arrives in the instant between unblocking and execve gets its default action, as it would in the
 * new program. The descriptors are arranged only once every handler is the default one: no libuv
 * handler can then write to one of its descriptors that a handed-on one has replaced.
 */
static napi_value Execve(napi_env env, napi_callback_info info) {
  napi_value a[4];
  char path[PATH_BUF];
  int err = 0;
  size_t argc = 4;
  if (napi_get_cb_info(env, info, &argc, a, NULL, NULL) != napi_ok || argc < 3) return int_result(env, -EINVAL);
  if ((err = get_str(env, a[0], path, sizeof path))) return int_result(env, err);
  char **argv = get_str_array(env, a[1], &err);
  char **envp = err ? NULL : get_str_array(env, a[2], &err);
  struct fd_plan plan = {0};
  int *fds = (err || argc < 4) ? NULL : get_int_array(env, a[3], &plan.n, &err);
  if (err || !argv || !argv[0]) {
    free_str_array(argv);
    free_str_array(envp);
    free(fds);
    return int_result(env, err ? err : -EINVAL);
  }
  sigset_t all, none, old_mask;
  sigfillset(&all);
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &all, &old_mask);
  int old_fl[3], old_fd[3];
  for (int fd = 0; fd <= 2; fd++) {
    old_fl[fd] = fcntl(fd, F_GETFL);
    if (old_fl[fd] >= 0 && (old_fl[fd] & O_NONBLOCK)) fcntl(fd, F_SETFL, old_fl[fd] & ~O_NONBLOCK);
    old_fd[fd] = fcntl(fd, F_GETFD);
    if (old_fd[fd] >= 0 && (old_fd[fd] & FD_CLOEXEC)) fcntl(fd, F_SETFD, old_fd[fd] & ~FD_CLOEXEC);
  }
  struct sigaction old_act[NSIG];
  bool saved[NSIG];
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  /* SIGKILL/SIGSTOP, glibc's reserved 32/33 and invalid numbers fail harmlessly (and are not restored) */
  for (int s = 1; s < NSIG; s++) saved[s] = sigaction(s, &dfl, &old_act[s]) == 0;
  err = plan.n > 0 ? fd_plan_apply(&plan, fds) : 0;
  if (!err) {
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    execve(path, argv, envp);
    err = -errno;
    pthread_sigmask(SIG_SETMASK, &all, NULL);
    if (plan.n > 0) fd_plan_undo(&plan);
  }
  fd_plan_free(&plan);
  for (int s = 1; s < NSIG; s++)
    if (saved[s]) sigaction(s, &old_act[s], NULL);
  for (int fd = 0; fd <= 2; fd++) {
    if (old_fl[fd] >= 0 && (old_fl[fd] & O_NONBLOCK)) fcntl(fd, F_SETFL, old_fl[fd]);
    if (old_fd[fd] >= 0 && (old_fd[fd] & FD_CLOEXEC)) fcntl(fd, F_SETFD, old_fd[fd]);
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
  free_str_array(argv);
  free_str_array(envp);
  free(fds);
  return int_result(env, err);
}

/* The size-query-then-read pattern of the xattr calls races with writers: a list or value that grows
 * in between makes the read fail with ERANGE. Ask again, a few times. */
#define XATTR_TRIES 8

static napi_value ListXattrs(napi_env env, napi_callback_info info) {
  napi_value a[1];
  char path[PATH_BUF];
  int err;
  if (get_args(env, info, 1, a)) return int_result(env, -EINVAL);
  if ((err = get_str(env, a[0], path, sizeof path))) return int_result(env, err);
  char *buf = NULL;
  ssize_t n = 0;
  for (int tries = 0;; tries++) {
    ssize_t want = llistxattr(path, NULL, 0);
    if (want < 0) {
      err = (errno == ENOTSUP) ? 0 : -errno; /* a filesystem without xattrs: an empty list */
      n = 0;
      break;
    }
    if (want == 0) {
      n = 0;
      break;
    }
    char *nb = realloc(buf, (size_t)want);
    if (!nb) {
      err = -ENOMEM;
      break;
    }
    buf = nb;
    n = llistxattr(path, buf, (size_t)want);
    if (n >= 0) break;
    if (errno != ERANGE || tries + 1 >= XATTR_TRIES) {
      err = -errno;
      break;
    }
  }
  if (err) {
    free(buf);
    return int_result(env, err);
  }
  napi_value arr;
  napi_create_array(env, &arr);
  uint32_t i = 0;
  for (char *p = buf; p && p < buf + n; p += strlen(p) + 1) {
    napi_value s;
    napi_create_string_utf8(env, p, NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, arr, i++, s);
  }
  free(buf);
  return arr;
}

static napi_value GetXattr(napi_env env, napi_callback_info info) {
  napi_value a[2];
  char path[PATH_BUF], name[256];
  int err;
  if (get_args(env, info, 2, a)) return int_result(env, -EINVAL);
  if ((err = get_str(env, a[0], path, sizeof path)) || (err = get_str(env, a[1], name, sizeof name)))
    return int_result(env, err);
  char *data = NULL;
  ssize_t n = 0;
  for (int tries = 0;; tries++) {
    ssize_t want = lgetxattr(path, name, NULL, 0);
    if (want < 0) {
      err = -errno;
      break;
    }
    if (want == 0) { /* a size of 0 would only ask for the size again */
      n = 0;
      break;
    }
    char *nd = realloc(data, (size_t)want);
    if (!nd) {
      err = -ENOMEM;
      break;
    }
    data = nd;
    n = lgetxattr(path, name, data, (size_t)want);
    if (n >= 0) break;
    if (errno != ERANGE || tries + 1 >= XATTR_TRIES) {
      err = -errno;
      break;
    }
  }
  napi_value buf;
  if (!err && napi_create_buffer_copy(env, (size_t)n, data, NULL, &buf) != napi_ok) err = -ENOMEM;
  free(data);
  return err ? int_result(env, err) : buf;
}

static napi_value SetXattr(napi_env env, napi_callback_info info) {
  napi_value a[3];
  char path[PATH_BUF], name[256];
  int err;
  void *data = NULL;
  size_t len = 0;
  bool is_buf = false;
  if (get_args(env, info, 3, a)) return int_result(env, -EINVAL);
  if ((err = get_str(env, a[0], path, sizeof path)) || (err = get_str(env, a[1], name, sizeof name)))
    return int_result(env, err);
  if (napi_is_buffer(env, a[2], &is_buf) != napi_ok || !is_buf ||
      napi_get_buffer_info(env, a[2], &data, &len) != napi_ok)
    return int_result(env, -EINVAL);
  return int_result(env, lsetxattr(path, name, data, len, 0) < 0 ? -errno : 0);
}

static napi_value Mknod(napi_env env, napi_callback_info info) {
  napi_value a[4];
  char path[PATH_BUF];
  int32_t mode, major_, minor_;
  int err;
  if (get_args(env, info, 4, a)) return int_result(env, -EINVAL);
  if ((err = get_str(env, a[0], path, sizeof path))) return int_result(env, err);
  if (get_i32(env, a[1], &mode) || get_i32(env, a[2], &major_) || get_i32(env, a[3], &minor_))
    return int_result(env, -EINVAL);
  return int_result(env, mknod(path, (mode_t)mode, makedev(major_, minor_)) < 0 ? -errno : 0);
}

static napi_value Syncfs(napi_env env, napi_callback_info info) {
  napi_value a[1];
  int32_t fd;
  if (get_args(env, info, 1, a) || get_i32(env, a[0], &fd)) return int_result(env, -EINVAL);
  return int_result(env, syncfs(fd) < 0 ? -errno : 0);
}

/* The ID of the mount holding path (statx STATX_MNT_ID, symlinks not followed): which mount a path is on,
 * without reading /proc/self/mountinfo, whose cost grows with every mount on the host. */
static napi_value MountId(napi_env env, napi_callback_info info) {
  napi_value a[1];
  char path[PATH_BUF];
  int err;
  if (get_args(env, info, 1, a)) return int_result(env, -EINVAL);
  if ((err = get_str(env, a[0], path, sizeof path))) return int_result(env, err);
  struct statx sx;
  if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &sx) < 0) return int_result(env, -errno);
  if (!(sx.stx_mask & STATX_MNT_ID)) return int_result(env, -ENOSYS); /* Linux < 5.8 */
  napi_value v;
  napi_create_double(env, (double)sx.stx_mnt_id, &v);
  return v;
}

/* Connects through /proc/self/fd/N/name, N a descriptor of dir: sun_path holds 108 bytes, a pod's path may not. */
static int unix_connect(const char *dir, const char *name) {
  int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC), fd = -1, err = 0;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (dfd < 0) return -errno;
  if ((size_t)snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/%s", dfd, name) >= sizeof addr.sun_path)
    err = -ENAMETOOLONG;
  else if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
    err = -errno;
  close(dfd);
  if (err && fd >= 0) close(fd);
  return err ? err : fd;
}

/* Blocks until the peer has answered and closed: a request to a pod's supervisor may wait for an app to stop. */
static napi_value UnixRequest(napi_env env, napi_callback_info info) {
  napi_value a[4];
  char dir[PATH_BUF], name[256], req[4096];
  uint32_t nfds = 0;
  int err = get_args(env, info, 4, a);
  if (!err) err = get_str(env, a[0], dir, sizeof dir);
  if (!err) err = get_str(env, a[1], name, sizeof name);
  if (!err) err = get_str(env, a[2], req, sizeof req);
  int *fds = err ? NULL : get_int_array(env, a[3], &nfds, &err);
  int fd = err ? err : unix_connect(dir, name);
  if (fd < 0) return free(fds), int_result(env, fd);
  char cbuf[CMSG_SPACE(64 * sizeof(int))] = {0};
  struct iovec iov = {req, strlen(req)};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (nfds > 64) err = -EINVAL;
  else if (nfds) {
    msg.msg_control = cbuf, msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET, cm->cmsg_type = SCM_RIGHTS, cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
    memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
  }
  free(fds);
  ssize_t n;
  if (!err) {
    do n = sendmsg(fd, &msg, MSG_NOSIGNAL); while (n < 0 && errno == EINTR);
    /* A peer that refuses a request may answer and close before reading it: its answer is still there to read. */
    if (n < 0 && errno != EPIPE && errno != ECONNRESET) err = -errno;
    else if (n >= 0 && (size_t)n < iov.iov_len) err = -EMSGSIZE; /* a request is one short line */
  }
  char ans[4096];
  size_t len = 0;
  /* The answer comes before the end: ECONNRESET (the peer closed without reading everything) ends it too. */
  while (!err && len < sizeof ans && (n = read(fd, ans + len, sizeof ans - len)) != 0)
    if (n > 0) len += (size_t)n;
    else if (errno == ECONNRESET && len > 0) break;
    else if (errno != EINTR) err = -errno;
  close(fd);
  if (err) return int_result(env, err);
  napi_value v;
  napi_create_string_utf8(env, ans, len, &v);
  return v;
}

/* Reads an optional string argument: null/undefined → NULL (mount(2) takes NULL for "none"). */
static int get_opt_str(napi_env env, napi_value v, char *buf, size_t cap, char **out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return -EINVAL;
  if (t == napi_null || t == napi_undefined) {
    *out = NULL;
    return 0;
  }
  int err = get_str(env, v, buf, cap);
  *out = err ? NULL : buf;
  return err;
}

static napi_value Mount(napi_env env, napi_callback_info info) {
  napi_value a[5];
  char src[PATH_BUF], target[PATH_BUF], fstype[64], data[PATH_BUF * 4];
  char *srcp, *fsp, *datap;
  double flags;
  int err;
  if (get_args(env, info, 5, a)) return int_result(env, -EINVAL);
  if ((err = get_opt_str(env, a[0], src, sizeof src, &srcp)) || (err = get_str(env, a[1], target, sizeof target)) ||
      (err = get_opt_str(env, a[2], fstype, sizeof fstype, &fsp)) ||
      (err = get_opt_str(env, a[4], data, sizeof data, &datap)))
    return int_result(env, err);
  if (napi_get_value_double(env, a[3], &flags) != napi_ok || flags < 0) return int_result(env, -EINVAL);
  return int_result(env, mount(srcp, target, fsp, (unsigned long)flags, datap) < 0 ? -errno : 0);
}

static napi_value Umount2(napi_env env, napi_callback_info info) {
  napi_value a[2];
  char target[PATH_BUF];
  int32_t flags;
  int err;
  if (get_args(env, info, 2, a)) return int_result(env, -EINVAL);
  if ((err = get_str(env, a[0], target, sizeof target)) || get_i32(env, a[1], &flags)) return int_result(env, err ? err : -EINVAL);
  return int_result(env, umount2(target, flags) < 0 ? -errno : 0);
}

/*
 * A user namespace whose ids 0..count-1 are the host's first..first+count-1 (uids and gids), as an fd: what
 * mount_setattr takes to describe an idmapping. A forked child unshares it (a threaded process cannot) and
 * waits while we write its maps and open it; it then exits, the descriptor keeps the namespace.
 */
static int userns_fd(unsigned long first, unsigned long count) {
  int ready[2], done[2], fd = -1, err = 0;
  if (pipe2(ready, O_CLOEXEC) < 0) return -errno;
  if (pipe2(done, O_CLOEXEC) < 0) return err = -errno, close(ready[0]), close(ready[1]), err;
  pid_t pid = fork();
  if (pid == 0) { /* only async-signal-safe calls in the child of a threaded process */
    close(ready[0]);
    close(done[1]); /* else our own copy would keep the read below from ever seeing EOF */
    char ok = unshare(CLONE_NEWUSER) == 0;
    if (write(ready[1], &ok, 1) == 1) (void)!read(done[0], &ok, 1);
    _exit(0);
  }
  close(ready[1]);
  close(done[0]);
  char ok = 0, file[64], map[64];
  if (pid < 0) err = -errno;
  else if (read(ready[0], &ok, 1) != 1 || !ok) err = -EPERM;
  int n = snprintf(map, sizeof map, "0 %lu %lu\n", first, count);
  for (int i = 0; !err && i < 2; i++) {
    snprintf(file, sizeof file, "/proc/%d/%s", (int)pid, i ? "gid_map" : "uid_map");
    int m = open(file, O_WRONLY | O_CLOEXEC);
    if (m < 0 || write(m, map, (size_t)n) != n) err = -errno;
    if (m >= 0) close(m);
  }
  snprintf(file, sizeof file, "/proc/%d/ns/user", (int)pid);
  if (!err && (fd = open(file, O_RDONLY | O_CLOEXEC)) < 0) err = -errno;
  close(done[1]);
  close(ready[0]);
  if (pid > 0)
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
  return err ? err : fd;
}

/* open_tree + mount_setattr(MOUNT_ATTR_IDMAP) + move_mount: a recursive bind of src on target, idmapped. */
static napi_value IdmapBind(napi_env env, napi_callback_info info) {
  napi_value a[4];
  char src[PATH_BUF], target[PATH_BUF];
  double first, count;
  int err;
  if (get_args(env, info, 4, a)) return int_result(env, -EINVAL);
  if ((err = get_str(env, a[0], src, sizeof src)) || (err = get_str(env, a[1], target, sizeof target)))
    return int_result(env, err);
  if (napi_get_value_double(env, a[2], &first) != napi_ok || napi_get_value_double(env, a[3], &count) != napi_ok ||
      first < 0 || count < 1 || first + count > 4294967295.0)
    return int_result(env, -EINVAL);
  int ns = userns_fd((unsigned long)first, (unsigned long)count);
  if (ns < 0) return int_result(env, ns);
  int tree = (int)syscall(SYS_open_tree, AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)ns};
  err = tree < 0 ? -errno : 0;
  if (!err && syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) err = -errno;
  if (!err && syscall(SYS_move_mount, tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0) err = -errno;
  if (tree >= 0) close(tree);
  close(ns);
  return int_result(env, err);
}

/*
 * removeTree(parent, name): deletes parent/name and everything under it, for trees another (untrusted)
 * process may be changing at the same time: an app's leftover process swapping a directory of its rootfs
 * for a symlink to a host directory (renameat2 RENAME_EXCHANGE) in a loop. A walk by path (lstat, then
 * readdir or unlink of the same path) resolves the path again each time and can be sent through the
 * symlink; this walk never resolves a path more than one component deep:
 *
 *   - each directory is opened relative to its parent's descriptor with O_NOFOLLOW|O_DIRECTORY (a symlink
 *     or file swapped in fails to open and is unlinked as what it is), and every entry is unlinked relative
 *     to the descriptor of the directory holding it;
 *   - every directory must be on the top's mount (statx mount ID: a bind mount of the same filesystem has
 *     the same st_dev, not the same mount ID); a mount met inside stops the walk with EBUSY, untouched;
 *   - one directory descriptor is open at a time (plus the parent's): going down closes the parent, going
 *     up opens ".." and checks it is the directory recorded on the way down (device and inode), so the
 *     depth is limited by memory, not by PATH_MAX or by descriptors. A directory moved elsewhere meanwhile
 *     makes ".." another directory: the walk stops with ESTALE rather than delete in the wrong place.
 *
 * A missing parent/name is not an error; a non-directory at parent/name is unlinked (a symlink never
 * followed). The parent path is trusted (rkt's own state directories). Returns 0, or {errno, syscall, path}
 * with the path of the failing entry relative to parent/name ("" for the top itself).
 */
struct rt_level {
  dev_t dev;
  ino_t ino;
  char *name;     /* this directory's name in its parent (NULL for the top) */
  char **subdirs; /* directory entries found by the last scan, visited one by one */
  size_t n, cap, next;
  int scans;
};

struct rt_walk {
  struct rt_level *levels;
  size_t depth, cap;
  uint64_t mnt;
  int err;
  const char *syscall;
  char *err_path; /* malloc'd, relative to the top */
};

/* A directory is scanned again when its subdirectories are done, to catch entries added meanwhile; a tree
 * that keeps growing under the walk is given up on rather than chased forever. */
#define RT_MAX_SCANS 16

static int rt_identify(int fd, uint64_t *mnt, dev_t *dev, ino_t *ino) {
  struct statx sx;
  if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_INO | STATX_MNT_ID, &sx) < 0) return -errno;
  if (!(sx.stx_mask & STATX_MNT_ID)) return -ENOSYS; /* Linux < 5.8 */
  *mnt = sx.stx_mnt_id;
  *dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
  *ino = sx.stx_ino;
  return 0;
}

/* Appends "/name" (or "name" at the start) at p; returns the new end. */
static char *rt_append(char *start, char *p, const char *name) {
  if (p != start) *p++ = '/';
  size_t n = strlen(name);
  memcpy(p, name, n);
  p[n] = '\0';
  return p + n;
}

/* Records a failure with the path of `entry` (NULL: the current directory) relative to the top. */
static void rt_fail(struct rt_walk *w, int err, const char *syscall, const char *entry) {
  if (w->err) return;
  w->err = err;
  w->syscall = syscall;
  size_t len = 1;
  for (size_t i = 1; i < w->depth; i++) len += strlen(w->levels[i].name) + 1;
  if (entry) len += strlen(entry) + 1;
  char *p = w->err_path = malloc(len);
  if (!p) return;
  *p = '\0';
  for (size_t i = 1; i < w->depth; i++) p = rt_append(w->err_path, p, w->levels[i].name);
  if (entry) rt_append(w->err_path, p, entry);
}

static int rt_push(struct rt_walk *w, const char *name, dev_t dev, ino_t ino) {
  if (w->depth == w->cap) {
    size_t cap = w->cap ? w->cap * 2 : 64;
    struct rt_level *l = realloc(w->levels, cap * sizeof *l);
    if (!l) return -ENOMEM;
    w->levels = l;
    w->cap = cap;
  }
  struct rt_level *l = &w->levels[w->depth];
  memset(l, 0, sizeof *l);
  l->dev = dev;
  l->ino = ino;
  if (name && !(l->name = strdup(name))) return -ENOMEM;
  w->depth++;
  return 0;
}

static void rt_clear_subdirs(struct rt_level *l) {
  for (size_t i = 0; i < l->n; i++) free(l->subdirs[i]);
  l->n = l->next = 0;
}

static void rt_pop(struct rt_walk *w) {
  struct rt_level *l = &w->levels[--w->depth];
  rt_clear_subdirs(l);
  free(l->subdirs);
  free(l->name);
}

static int rt_add_subdir(struct rt_level *l, const char *name) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    char **s = realloc(l->subdirs, cap * sizeof *s);
    if (!s) return -ENOMEM;
    l->subdirs = s;
    l->cap = cap;
  }
  if (!(l->subdirs[l->n] = strdup(name))) return -ENOMEM;
  l->n++;
  return 0;
}

/* Unlinks every non-directory of the directory at fd and lists its subdirectories (through a description
 * of its own, so each scan starts at the beginning). Returns 0 or -errno (recorded in w). */
static int rt_scan(struct rt_walk *w, int fd, struct rt_level *l) {
  rt_clear_subdirs(l);
  if (++l->scans > RT_MAX_SCANS) {
    rt_fail(w, -ENOTEMPTY, "rmdir", NULL);
    return w->err;
  }
  int sfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = sfd < 0 ? NULL : fdopendir(sfd);
  if (!d) {
    if (sfd >= 0) close(sfd);
    rt_fail(w, -errno, "opendir", NULL);
    return w->err;
  }
  int err = 0;
  for (;;) {
    errno = 0;
    struct dirent *e = readdir(d);
    if (!e) {
      if (errno) rt_fail(w, err = -errno, "readdir", NULL);
      break;
    }
    const char *n = e->d_name;
    if (n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'))) continue;
    if (e->d_type != DT_DIR && unlinkat(fd, n, 0) == 0) continue;
    if (e->d_type == DT_DIR || errno == EISDIR) { /* what d_type said, or a directory swapped in since */
      if ((err = rt_add_subdir(l, n))) {
        rt_fail(w, err, "malloc", NULL);
        break;
      }
    } else if (errno != ENOENT) {
      rt_fail(w, err = -errno, "unlinkat", n);
      break;
    }
  }
  closedir(d);
  return err;
}

static void rt_walk_tree(struct rt_walk *w, int pfd, const char *top) {
  int fd = openat(pfd, top, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return;
    if (errno != ELOOP && errno != ENOTDIR) return rt_fail(w, -errno, "openat", NULL);
    if (unlinkat(pfd, top, 0) < 0 && errno != ENOENT) rt_fail(w, -errno, "unlinkat", NULL);
    return;
  }
  uint64_t mnt, pmnt;
  dev_t dev, pdev;
  ino_t ino, pino;
  int err = rt_identify(fd, &mnt, &dev, &ino);
  if (!err) err = rt_identify(pfd, &pmnt, &pdev, &pino);
  if (err) {
    close(fd);
    return rt_fail(w, err, "statx", NULL);
  }
  if (mnt != pmnt) { /* the top is itself a mount point: its content belongs to another filesystem */
    close(fd);
    return rt_fail(w, -EBUSY, "statx", NULL);
  }
  w->mnt = mnt;
  if ((err = rt_push(w, NULL, dev, ino))) {
    close(fd);
    return rt_fail(w, err, "malloc", NULL);
  }
  while (w->depth > 0 && !w->err) {
    struct rt_level *l = &w->levels[w->depth - 1];
    if (l->next == l->n) {
      if (rt_scan(w, fd, l)) break;
    }
    if (l->next < l->n) { /* down into the next subdirectory */
      const char *name = l->subdirs[l->next++];
      int cfd = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (cfd < 0) {
        if (errno == ENOENT) continue;
        if (errno != ELOOP && errno != ENOTDIR) {
          rt_fail(w, -errno, "openat", name);
          break;
        }
        /* Not a directory any more (a symlink swapped in): remove it as what it is now. A directory swapped
         * back meanwhile (EISDIR) is found again by the next scan. */
        if (unlinkat(fd, name, 0) < 0 && errno != ENOENT && errno != EISDIR) {
          rt_fail(w, -errno, "unlinkat", name);
          break;
        }
        continue;
      }
      if ((err = rt_identify(cfd, &mnt, &dev, &ino)) || mnt != w->mnt) {
        close(cfd);
        rt_fail(w, err ? err : -EBUSY, "statx", name);
        break;
      }
      if ((err = rt_push(w, name, dev, ino))) {
        close(cfd);
        rt_fail(w, err, "malloc", NULL);
        break;
      }
      close(fd);
      fd = cfd;
      continue;
    }
    /* Empty: up to the parent, checked to be the one we came down through, and remove this directory. */
    if (w->depth == 1) {
      close(fd);
      fd = -1;
      if (unlinkat(pfd, top, AT_REMOVEDIR) == 0 || errno == ENOENT) {
        rt_pop(w);
        break;
      }
      if (errno != ENOTEMPTY) {
        rt_fail(w, -errno, "rmdir", NULL);
        break;
      }
      fd = openat(pfd, top, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0 || (err = rt_identify(fd, &mnt, &dev, &ino)) || dev != l->dev || ino != l->ino) {
        rt_fail(w, fd < 0 ? -errno : err ? err : -ESTALE, "openat", NULL);
        break;
      }
      continue; /* something was added meanwhile: scan again */
    }
    struct rt_level *up = &w->levels[w->depth - 2];
    int pfd2 = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd2 < 0) {
      rt_fail(w, -errno, "openat", "..");
      break;
    }
    if ((err = rt_identify(pfd2, &mnt, &dev, &ino)) || mnt != w->mnt || dev != up->dev || ino != up->ino) {
      close(pfd2);
      rt_fail(w, err ? err : -ESTALE, "openat", "..");
      break;
    }
    close(fd);
    fd = pfd2;
    /* Not empty any more, or not a directory any more (a symlink swapped in for it, and it now under another
     * name): the parent's next scan finds what is there. */
    if (unlinkat(fd, l->name, AT_REMOVEDIR) < 0 && errno != ENOENT && errno != ENOTEMPTY && errno != ENOTDIR) {
      rt_fail(w, -errno, "rmdir", NULL);
      break;
    }
    rt_pop(w);
  }
  if (fd >= 0) close(fd);
}

static napi_value RemoveTree(napi_env env, napi_callback_info info) {
  napi_value a[2];
  char parent[PATH_BUF], name[NAME_MAX + 1];
  int err;
  if (get_args(env, info, 2, a)) return int_result(env, -EINVAL);
  if ((err = get_str(env, a[0], parent, sizeof parent)) || (err = get_str(env, a[1], name, sizeof name)))
    return int_result(env, err);
  if (!name[0] || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) return int_result(env, -EINVAL);
  int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (pfd < 0) return int_result(env, errno == ENOENT ? 0 : -errno);
  struct rt_walk w = {0};
  rt_walk_tree(&w, pfd, name);
  close(pfd);
  while (w.depth > 0) rt_pop(&w);
  free(w.levels);
  if (!w.err) {
    free(w.err_path);
    return int_result(env, 0);
  }
  napi_value obj, v;
  napi_create_object(env, &obj);
  napi_create_int32(env, w.err, &v);
  napi_set_named_property(env, obj, "errno", v);
  napi_create_string_utf8(env, w.syscall, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "syscall", v);
  napi_create_string_utf8(env, w.err_path ? w.err_path : "", NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "path", v);
  free(w.err_path);
  return obj;
}

NAPI_MODULE_INIT() {
  struct {
    const char *name;
    napi_callback cb;
  } fns[] = {
      {"flock", Flock},         {"setCloexec", SetCloexec}, {"execve", Execve}, {"listXattrs", ListXattrs},
      {"getXattr", GetXattr},   {"setXattr", SetXattr},     {"mknod", Mknod},   {"syncfs", Syncfs},
      {"mount", Mount},         {"umount2", Umount2},       {"idmapBind", IdmapBind},
      {"removeTree", RemoveTree}, {"mountId", MountId},     {"unixRequest", UnixRequest},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value fn;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].cb, NULL, &fn);
    napi_set_named_property(env, exports, fns[i].name, fn);
  }
  return exports;
}
