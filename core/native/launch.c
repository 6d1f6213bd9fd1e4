/*
 * launch: starts the rkt, actool or docker2aci CLI (named by argv[0]) as fast as Node allows.
 *
 * The build leaves, per CLI, a CommonJS bundle (<dist>/cli/<name>.cjs) and a V8 startup snapshot of it
 * (<name>.blob), which starts oclif about 60 ms sooner. A snapshot only works with the node binary that
 * built it (any other crashes), so the build also writes <name>.blob.stamp: that node's path and the
 * identity of its file. When the stamp still matches, exec that node with the snapshot; otherwise exec
 * `node` from PATH with the bundle. One stat() and one execve(): the PID is the caller's, so signals
 * and exit codes pass straight through (rkt run must be the process systemd started).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXIT_FAILURE_RKT 254

static const char *cli_name(const char *argv0) {
  const char *base = strrchr(argv0, '/');
  base = base ? base + 1 : argv0;
  if (strcmp(base, "actool") == 0 || strcmp(base, "docker2aci") == 0) return base;
  return "rkt";
}

/* <dist> is two levels above this executable (<dist>/bin/launch), found through /proc/self/exe so
 * that symlinks such as /usr/local/bin/rkt -> <repo>/bin/rkt -> ../core/dist/bin/launch work. */
static int dist_dir(char *out, size_t cap) {
  ssize_t n = readlink("/proc/self/exe", out, cap - 1);
  if (n <= 0) return -1;
  out[n] = '\0';
  for (int up = 0; up < 2; up++) {
    char *slash = strrchr(out, '/');
    if (!slash || slash == out) return -1;
    *slash = '\0';
  }
  return 0;
}

/* Stamp format: line 1 the node path, line 2 "dev ino size mtime_sec mtime_nsec" of that file. */
static int stamp_matches(const char *stamp, char *node, size_t cap) {
  FILE *f = fopen(stamp, "re");
  if (!f) return 0;
  unsigned long long dev, ino, size, sec, nsec;
  int ok = fgets(node, (int)cap, f) != NULL && fscanf(f, "%llu %llu %llu %llu %llu", &dev, &ino, &size, &sec, &nsec) == 5;
  fclose(f);
  if (!ok) return 0;
  node[strcspn(node, "\n")] = '\0';
  struct stat st;
  if (node[0] != '/' || stat(node, &st) != 0) return 0;
  return st.st_dev == dev && st.st_ino == ino && (unsigned long long)st.st_size == size &&
         (unsigned long long)st.st_mtim.tv_sec == sec && (unsigned long long)st.st_mtim.tv_nsec == nsec;
}

int main(int argc, char **argv) {
  const char *name = cli_name(argc > 0 ? argv[0] : "rkt");
  char dist[PATH_MAX], blob[PATH_MAX + 64], stamp[PATH_MAX + 64], bundle[PATH_MAX + 64], node[PATH_MAX];
  if (dist_dir(dist, sizeof dist) != 0) {
    fprintf(stderr, "%s: cannot find the installation directory from /proc/self/exe\n", name);
    return EXIT_FAILURE_RKT;
  }
  snprintf(blob, sizeof blob, "%s/cli/%s.blob", dist, name);
  snprintf(stamp, sizeof stamp, "%s/cli/%s.blob.stamp", dist, name);
  snprintf(bundle, sizeof bundle, "%s/cli/%s.cjs", dist, name);

  /* Node reads NODE_EXTRA_CA_CERTS eagerly at every start (about 90 ms for Debian's bundle) although most
   * commands never open a TLS connection. Hand it over under another name: the CLI restores it for the
   * processes it starts and loads the file itself only when it makes a TLS connection. */
  const char *extra_ca = getenv("NODE_EXTRA_CA_CERTS");
  if (extra_ca && *extra_ca) {
    setenv("RKT_NODE_EXTRA_CA_CERTS", extra_ca, 1);
    unsetenv("NODE_EXTRA_CA_CERTS");
  }

  char **args = calloc((size_t)argc + 4, sizeof(char *));
  if (!args) return EXIT_FAILURE_RKT;
  int n = 0;
  if (stamp_matches(stamp, node, sizeof node) && access(blob, R_OK) == 0) {
    args[n++] = node;
    args[n++] = "--snapshot-blob";
    args[n++] = blob;
    args[n++] = "--"; /* everything after this is the CLI's, even arguments that look like node options */
    for (int i = 1; i < argc; i++) args[n++] = argv[i];
    execv(node, args);
    fprintf(stderr, "%s: cannot start %s: %s\n", name, node, strerror(errno));
    return EXIT_FAILURE_RKT;
  }
  args[n++] = "node";
  args[n++] = bundle;
  for (int i = 1; i < argc; i++) args[n++] = argv[i];
  execvp("node", args);
  fprintf(stderr, "%s: cannot start node (is Node.js >= 20.19 on PATH?): %s\n", name, strerror(errno));
  return EXIT_FAILURE_RKT;
}
