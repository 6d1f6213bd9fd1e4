/* Shared by kvm-exec (host) and kvm-init (guest). */
#ifndef RKT_KVM_IO_H
#define RKT_KVM_IO_H
#include <errno.h>
#include <poll.h>
#include <unistd.h>

/* Writes all of buf, waiting on a non-blocking descriptor and retrying interrupted writes; -1 on error. */
static inline int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
      struct pollfd w = {fd, POLLOUT, 0};
      poll(&w, 1, 100);
      continue;
    }
    if (n <= 0) return -1;
    p += n, len -= n;
  }
  return 0;
}
#endif
