/*
 * rktsys: the few kernel interfaces a Node process of rkt needs and Node 20 does not offer.
 *
 *   flock(fd, op)                      advisory locks on files and directories (store, pods)
 *   setCloexec(fd, on)                 keep the pod lock fd open across execve, or not
 *   execve(path, argv, env)            become another program, keeping our PID (stage0 -> stage1)
 *   listXattrs/getXattr/setXattr       preserve extended attributes when rendering images
 *   mknod(path, mode, major, minor)    device nodes, when a caller allows them
 *   syncfs(fd)                         one flush for a whole rendered tree instead of one per file
 *
 * Every function returns 0 (or a value) on success and -errno on failure; the TypeScript wrapper
 * (core/src/sys/native.ts) turns negative numbers into Node-style errors. No function throws.
 */
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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

/*
 * Replaces this process with another program, as rkt's stage0 does when it hands a pod to stage1.
 * Node leaves state behind that a new program must not inherit: SIGPIPE ignored (ignored signals
 * survive execve), blocked signals, and O_NONBLOCK on the stdio descriptors (shared with the
 * terminal or pipe: the next program would see EAGAIN). Reset those first. Descriptors Node opened
 * are close-on-exec; callers clear that flag on the ones to pass on (the pod lock).
 * Returns only on failure, with -errno.
 */
static napi_value Execve(napi_env env, napi_callback_info info) {
  napi_value a[3];
  char path[PATH_BUF];
  int err = 0;
  if (get_args(env, info, 3, a)) return int_result(env, -EINVAL);
  if ((err = get_str(env, a[0], path, sizeof path))) return int_result(env, err);
  char **argv = get_str_array(env, a[1], &err);
  char **envp = err ? NULL : get_str_array(env, a[2], &err);
  if (err || !argv || !argv[0]) {
    free_str_array(argv);
    free_str_array(envp);
    return int_result(env, err ? err : -EINVAL);
  }
  for (int fd = 0; fd <= 2; fd++) {
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK)) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  }
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; s++) sigaction(s, &dfl, NULL); /* SIGKILL/SIGSTOP and invalid numbers fail harmlessly */
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  execve(path, argv, envp);
  err = -errno;
  free_str_array(argv);
  free_str_array(envp);
  return int_result(env, err);
}

static napi_value ListXattrs(napi_env env, napi_callback_info info) {
  napi_value a[1];
  char path[PATH_BUF];
  int err;
  if (get_args(env, info, 1, a)) return int_result(env, -EINVAL);
  if ((err = get_str(env, a[0], path, sizeof path))) return int_result(env, err);
  ssize_t n = llistxattr(path, NULL, 0);
  if (n < 0) return int_result(env, (errno == ENOTSUP) ? 0 : -errno);
  napi_value arr;
  napi_create_array(env, &arr);
  if (n == 0) return arr;
  char *buf = malloc(n);
  if (!buf) return int_result(env, -ENOMEM);
  n = llistxattr(path, buf, n);
  if (n < 0) {
    err = -errno;
    free(buf);
    return int_result(env, err);
  }
  uint32_t i = 0;
  for (char *p = buf; p < buf + n; p += strlen(p) + 1) {
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
  ssize_t n = lgetxattr(path, name, NULL, 0);
  if (n < 0) return int_result(env, -errno);
  void *data = NULL;
  napi_value buf;
  if (napi_create_buffer(env, n, &data, &buf) != napi_ok) return int_result(env, -ENOMEM);
  if (n > 0 && lgetxattr(path, name, data, n) != n) return int_result(env, -(errno ? errno : EIO));
  return buf;
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

NAPI_MODULE_INIT() {
  struct {
    const char *name;
    napi_callback cb;
  } fns[] = {
      {"flock", Flock},         {"setCloexec", SetCloexec}, {"execve", Execve}, {"listXattrs", ListXattrs},
      {"getXattr", GetXattr},   {"setXattr", SetXattr},     {"mknod", Mknod},   {"syncfs", Syncfs},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value fn;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].cb, NULL, &fn);
    napi_set_named_property(env, exports, fns[i].name, fn);
  }
  return exports;
}
