/*
 * iomux: one app's stdout and stderr logger, and its attach endpoints (stage1-supervisor/README.md, "Logs").
 *
 *   iomux --log FILE [--max-bytes N] [--max-files N] --stdout FD --stderr FD
 *         [--attach DIR [--stdin FD]]
 *
 * Reads the two pipes the app writes its stdout and stderr to (FDs, read ends) until both are at EOF, that
 * is until the app and everything it started have closed them. Every chunk read is copied, unchanged, to our
 * own stdout or stderr (the pod's: a foreground `rkt run` shows what the app printed as it printed it), and
 * every line is appended to FILE in the CRI log format that kubelet reads and `rkt logs` prints:
 *
 *   2026-12-07T19:48:13.123456789Z stdout F a complete line
 *
 * (UTC, nine fraction digits so lines sort as text; the time is when we read the chunk holding the line's
 * end). A line longer than LINE_MAX bytes is written in pieces tagged P (partial), its last piece F; bytes
 * left without a newline at EOF are written as an F line. FILE is rotated when the next line would make it
 * larger than --max-bytes (default 10 MiB): FILE.1 becomes FILE.2 and so on up to FILE.<max-files - 1>, the
 * oldest is dropped, FILE becomes FILE.1 and a new FILE starts (--max-files, default 2, counts FILE itself),
 * so an app's log never takes more than max-bytes x max-files plus one line.
 *
 * --attach DIR: unix stream sockets DIR/stdout and DIR/stderr, whose clients get a copy of what the app
 * writes from the moment they connect (a client too slow to take a chunk at once is dropped, so it can never
 * stall the app), and with --stdin FD (the write end of the app's stdin pipe) DIR/stdin, whose clients' bytes
 * are written to the app's stdin; DIR/endpoints lists them (JSON, rkt's attach format). The sockets go away
 * with us. SIGINT, SIGTERM and SIGHUP are ignored: we end at EOF, after the app, so its last words are kept.
 * Every other descriptor we inherited is closed first. Exit 254 for our own errors (bad arguments, a log we
 * can't open).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define EXIT_INTERNAL 254
#define CHUNK 65536
#define LINE_MAX_ 16384 /* longer lines are split in P pieces (kubelet's own limit is 16 KiB too) */
#define MAX_CLIENTS 16

static const char *log_file;
static long max_bytes = 10L << 20, max_files = 2;
static int log_fd = -1;
static off_t log_size;
static char out[CHUNK * 2];
static size_t out_len;

static void die(const char *what) {
  fprintf(stderr, "iomux: %s: %s\n", what, strerror(errno));
  exit(EXIT_INTERNAL);
}

static void write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return; /* a full disk loses log lines, never the app */
    p += w, n -= (size_t)w;
  }
}

static void flush(void) {
  write_all(log_fd, out, out_len);
  out_len = 0;
}

static void open_log(void) {
  struct stat st;
  log_fd = open(log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (log_fd < 0 || fstat(log_fd, &st) < 0) die(log_file);
  log_size = st.st_size;
}

static void rotate(void) {
  char from[PATH_MAX], to[PATH_MAX];
  flush();
  close(log_fd);
  for (long i = max_files - 1; i >= 1; i--) {
    if (i == 1) snprintf(from, sizeof from, "%s", log_file);
    else snprintf(from, sizeof from, "%s.%ld", log_file, i - 1);
    snprintf(to, sizeof to, "%s.%ld", log_file, i);
    rename(from, to);
  }
  if (max_files == 1) unlink(log_file);
  open_log();
}

/* "2026-12-07T19:48:13.123456789Z", the seconds part computed once per second. */
static char stamp[40];
static void take_stamp(void) {
  static time_t last = -1;
  static char secs[24];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (ts.tv_sec != last) {
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    strftime(secs, sizeof secs, "%Y-%m-%dT%H:%M:%S", &tm);
    last = ts.tv_sec;
  }
  snprintf(stamp, sizeof stamp, "%s.%09ldZ", secs, ts.tv_nsec);
}

static void log_line(const char *stream, char tag, const char *a, size_t an, const char *b, size_t bn) {
  size_t head = strlen(stamp) + 1 + strlen(stream) + 3, len = head + an + bn + 1;
  if (log_size > 0 && log_size + (off_t)(out_len + len) > max_bytes) rotate();
  if (out_len + len > sizeof out) flush();
  if (len > sizeof out) return; /* cannot happen: a line is at most LINE_MAX_ */
  out_len += (size_t)sprintf(out + out_len, "%s %s %c ", stamp, stream, tag);
  memcpy(out + out_len, a, an), out_len += an;
  memcpy(out + out_len, b, bn), out_len += bn;
  out[out_len++] = '\n';
  log_size += (off_t)len;
}

struct stream {
  const char *name;
  int fd, copy_to, listener;
  char pending[LINE_MAX_];
  size_t plen;
  int clients[MAX_CLIENTS];
  size_t nclients;
};

/* Splits a chunk into lines: pending bytes of the stream are the start of its first line. */
static void log_chunk(struct stream *s, const char *p, size_t n) {
  while (n) {
    const char *nl = memchr(p, '\n', n);
    size_t seg = nl ? (size_t)(nl - p) : n;
    if (s->plen + seg >= LINE_MAX_) { /* the line is too long: a P piece of LINE_MAX_ bytes */
      size_t take = LINE_MAX_ - s->plen;
      log_line(s->name, 'P', s->pending, s->plen, p, take);
      s->plen = 0, p += take, n -= take;
      continue;
    }
    if (!nl) {
      memcpy(s->pending + s->plen, p, seg), s->plen += seg;
      return;
    }
    log_line(s->name, 'F', s->pending, s->plen, p, seg);
    s->plen = 0, p += seg + 1, n -= seg + 1;
  }
}

static void broadcast(struct stream *s, const char *p, size_t n) {
  for (size_t i = 0; i < s->nclients;) {
    if (send(s->clients[i], p, n, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)n) i++;
    else close(s->clients[i]), s->clients[i] = s->clients[--s->nclients];
  }
}

/* Bound through /proc/self/fd/N/NAME: a socket's path may be 107 bytes at most, and DIR (fly's, on the host) may be
 * longer than that. */
static int listen_on(const char *dir, const char *name) {
  static int dirfd = -1;
  char path[PATH_MAX];
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (dirfd < 0 && (dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) die(dir);
  snprintf(path, sizeof path, "%s/%s", dir, name);
  snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/%s", dirfd, name);
  unlink(path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 8) < 0) die(path);
  return fd;
}

static void write_endpoints(const char *dir, int with_stdin) {
  char path[PATH_MAX], tmp[PATH_MAX];
  snprintf(path, sizeof path, "%s/endpoints", dir);
  snprintf(tmp, sizeof tmp, "%s/.endpoints.tmp", dir);
  FILE *f = fopen(tmp, "we");
  if (!f) die(tmp);
  fprintf(f, "{\"version\":1,\"targets\":[");
  const char *names[] = {"stdin", "stdout", "stderr"};
  for (int i = with_stdin ? 0 : 1, first = 1; i < 3; i++, first = 0)
    fprintf(f, "%s{\"name\":\"%s\",\"domain\":\"unix\",\"address\":\"%s/%s\"}", first ? "" : ",", names[i], dir, names[i]);
  fprintf(f, "]}\n");
  if (fclose(f) != 0 || rename(tmp, path) < 0) die(path);
}

/* Closes every descriptor above 2 but the three kept (-1: none): what our parent held (the apps' cgroup
 * descriptors, the pod lock) is none of ours. */
static void close_others(int keep[3]) {
  for (int i = 0; i < 3; i++) /* sort the three */
    for (int j = i + 1; j < 3; j++)
      if (keep[j] < keep[i]) {
        int t = keep[i];
        keep[i] = keep[j], keep[j] = t;
      }
  unsigned from = 3;
  for (int i = 0; i < 3; i++) {
    if (keep[i] < (int)from) continue;
    if ((unsigned)keep[i] > from) close_range(from, (unsigned)keep[i] - 1, 0);
    from = (unsigned)keep[i] + 1;
  }
  close_range(from, ~0U, 0);
}

int main(int argc, char **argv) {
  static const struct option opts[] = {
    {"log", required_argument, 0, 'l'},    {"max-bytes", required_argument, 0, 'b'},
    {"max-files", required_argument, 0, 'n'}, {"stdout", required_argument, 0, 'o'},
    {"stderr", required_argument, 0, 'e'}, {"attach", required_argument, 0, 'a'},
    {"stdin", required_argument, 0, 'i'},  {0, 0, 0, 0},
  };
  struct stream st[2] = {{.name = "stdout", .fd = -1, .copy_to = 1, .listener = -1},
                         {.name = "stderr", .fd = -1, .copy_to = 2, .listener = -1}};
  const char *attach = NULL;
  int in_fd = -1, in_listener = -1, in_clients[MAX_CLIENTS];
  size_t nin = 0;
  for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
    long v = optarg ? strtol(optarg, NULL, 10) : 0;
    switch (c) {
    case 'l': log_file = optarg; break;
    case 'b': max_bytes = v; break;
    case 'n': max_files = v; break;
    case 'o': st[0].fd = (int)v; break;
    case 'e': st[1].fd = (int)v; break;
    case 'a': attach = optarg; break;
    case 'i': in_fd = (int)v; break;
    default: return EXIT_INTERNAL;
    }
  }
  if (!log_file || st[0].fd < 0 || st[1].fd < 0 || max_bytes < 1 || max_files < 1) {
    fprintf(stderr, "iomux: usage: iomux --log FILE [--max-bytes N] [--max-files N] --stdout FD --stderr FD "
                    "[--attach DIR [--stdin FD]]\n");
    return EXIT_INTERNAL;
  }
  signal(SIGINT, SIG_IGN), signal(SIGTERM, SIG_IGN), signal(SIGHUP, SIG_IGN), signal(SIGPIPE, SIG_IGN);
  close_others((int[]){st[0].fd, st[1].fd, in_fd});
  open_log();
  if (attach) {
    if (in_fd >= 0) in_listener = listen_on(attach, "stdin");
    st[0].listener = listen_on(attach, "stdout");
    st[1].listener = listen_on(attach, "stderr");
    write_endpoints(attach, in_fd >= 0);
  }

  static char buf[CHUNK];
  while (st[0].fd >= 0 || st[1].fd >= 0) {
    struct pollfd p[5 + MAX_CLIENTS];
    nfds_t np = 0;
    for (int i = 0; i < 2; i++) p[np++] = (struct pollfd){.fd = st[i].fd, .events = POLLIN};
    for (int i = 0; i < 2; i++) p[np++] = (struct pollfd){.fd = st[i].listener, .events = POLLIN};
    p[np++] = (struct pollfd){.fd = in_listener, .events = POLLIN};
    for (size_t i = 0; i < nin; i++) p[np++] = (struct pollfd){.fd = in_clients[i], .events = POLLIN};
    if (poll(p, np, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    for (int i = 0; i < 2; i++) {
      struct stream *s = &st[i];
      if (p[2 + i].revents & POLLIN) {
        int c = accept4(s->listener, NULL, NULL, SOCK_CLOEXEC);
        if (c >= 0 && s->nclients < MAX_CLIENTS) s->clients[s->nclients++] = c;
        else if (c >= 0) close(c);
      }
      if (!p[i].revents) continue;
      ssize_t n = read(s->fd, buf, sizeof buf);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) { /* EOF: the last line, even without its newline */
        if (s->plen) take_stamp(), log_line(s->name, 'F', s->pending, s->plen, "", 0), s->plen = 0;
        close(s->fd), s->fd = -1;
        continue;
      }
      write_all(s->copy_to, buf, (size_t)n); /* a closed terminal loses the copy, never the log */
      broadcast(s, buf, (size_t)n);
      take_stamp();
      log_chunk(s, buf, (size_t)n);
    }
    flush(); /* after each round, so `rkt logs --follow` sees every line we have */
    if (p[4].revents & POLLIN) {
      int c = accept4(in_listener, NULL, NULL, SOCK_CLOEXEC);
      if (c >= 0 && nin < MAX_CLIENTS) in_clients[nin++] = c;
      else if (c >= 0) close(c);
    }
    for (size_t i = 0; i < nin; i++) {
      if (!p[5 + i].revents) continue;
      ssize_t n = read(in_clients[i], buf, sizeof buf);
      if (n > 0) write_all(in_fd, buf, (size_t)n); /* blocks while the app doesn't read: it is its stdin */
      else if (n == 0 || errno != EINTR) close(in_clients[i]), in_clients[i] = -1;
    }
    for (size_t i = 0; i < nin;) /* drop closed clients (after the loop above, which indexes p by i) */
      if (in_clients[i] < 0) in_clients[i] = in_clients[--nin];
      else i++;
  }
  if (attach) {
    char path[PATH_MAX];
    const char *names[] = {"stdin", "stdout", "stderr", "endpoints"};
    for (int i = 0; i < 4; i++) snprintf(path, sizeof path, "%s/%s", attach, names[i]), unlink(path);
  }
  return 0;
}
