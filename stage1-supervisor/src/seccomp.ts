// An app's seccomp filter, resolved here to syscall names for the supervisor (which skips names this kernel
// lacks). The isolators are appc's os/linux/seccomp-{remove,retain}-set with rkt's groups (its seccomp guide,
// stage1/init/common/seccomp.go):
//   - retain-set: only the listed syscalls (the supervisor adds the ones it still makes itself, capset and
//     execve); `@appc.io/all` anywhere in it turns filtering off.
//   - remove-set: everything but the listed syscalls; `@appc.io/empty` asks for the default filter.
//   - errno: the isolator's errno name; none means the process is killed (SIGSYS), as appc specifies.
//   - no isolator: the default filter.
// The default filter is where this engine departs from rkt on purpose: rkt kept only @rkt/default-whitelist
// (Docker's 2016 allow-list) and killed with SIGSYS, which today kills any program using a later syscall
// on its first call (glibc ≥ 2.35 registers rseq at start-up, ≥ 2.34 creates threads with clone3). We
// remove @rkt/default-blacklist (Docker's deny-list: mount, kexec, modules, keyrings, bpf, ptrace, setns,
// unshare, …) and fail those calls with EPERM, so programs see an error they can handle.
import os from 'node:os'

import {RktError} from '@rkt/core/stage1'

import {LINUX_ERRNO} from './errno.js'

/** What the supervisor's `seccomp`, `seccomp-errno` and `syscall` keys carry. */
export interface SeccompFilter {
  readonly mode: 'none' | 'remove' | 'retain'
  /** errno returned by a filtered syscall; absent: the process is killed with SIGSYS. */
  readonly errno?: number
  readonly syscalls: readonly string[]
}

const words = (s: string): readonly string[] => Object.freeze(s.split(/\s+/).filter(Boolean))

/** Docker's default allow-list as rkt carried it (seccomp_wildcards.go DockerDefaultSeccompWhitelist). */
const DOCKER_WHITELIST = words(`
accept accept4 access alarm bind brk capget capset chdir chmod chown chown32 clock_getres
clock_gettime clock_nanosleep close connect copy_file_range creat dup dup2 dup3 epoll_create
epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_wait epoll_wait_old eventfd eventfd2 execve
execveat exit exit_group faccessat fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod
fchmodat fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork
fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex
futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32
getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom
getresgid getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid getsockname
getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch
inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents ioprio_get
ioprio_set io_setup io_submit ipc kill lchown lchown32 lgetxattr link linkat listen listxattr
llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise memfd_create mincore mkdir
mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open
mq_timedreceive mq_timedsend mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall
munmap nanosleep newfstatat _newselect open openat pause personality pipe pipe2 poll ppoll prctl
pread64 preadv prlimit64 pselect6 pwrite64 pwritev read readahead readlink readlinkat readv recv
recvfrom recvmmsg recvmsg remap_file_pages removexattr rename renameat renameat2 restart_syscall
rmdir rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend
rt_sigtimedwait rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam
sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval
sched_setaffinity sched_setattr sched_setparam sched_setscheduler sched_yield seccomp select semctl
semget semop semtimedop send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32
setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority setregid
setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit set_robust_list
setsid setsockopt set_thread_area set_tid_address setuid setuid32 setxattr shmat shmctl shmdt shmget
shutdown sigaltstack signalfd signalfd4 sigreturn socket socketcall socketpair splice stat stat64
statfs statfs64 symlink symlinkat sync sync_file_range syncfs sysinfo syslog tee tgkill time
timer_create timer_delete timerfd_create timerfd_gettime timerfd_settime timer_getoverrun
timer_gettime timer_settime times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat
utime utimensat utimes vfork vmsplice wait4 waitid waitpid write writev arch_prctl modify_ldt chroot
clone`)

/** Docker's default deny-list as rkt carried it (DockerDefaultSeccompBlacklist). */
const DOCKER_BLACKLIST = words(`
acct add_key adjtimex bpf clock_adjtime clock_settime create_module delete_module finit_module
get_kernel_syms get_mempolicy init_module ioperm iopl kcmp kexec_file_load kexec_load keyctl
lookup_dcookie mbind mount move_pages name_to_handle_at nfsservctl open_by_handle_at perf_event_open
pivot_root process_vm_readv process_vm_writev ptrace query_module quotactl reboot request_key
set_mempolicy setns settimeofday stime swapon swapoff sysfs _sysctl umount umount2 unshare uselib
userfaultfd ustat vm86 vm86old`)

/**
 * The groups a set may name. rkt's own are Docker's lists; the @systemd ones are systemd's groups as rkt
 * mapped them (`@systemd/default-whitelist` is systemd's @default), expanded with `systemd-analyze
 * syscall-filter` of systemd 252 (Debian 12), nested groups included.
 */
export const SECCOMP_GROUPS: Readonly<Record<string, readonly string[]>> = {
  '@rkt/default-whitelist': DOCKER_WHITELIST,
  '@rkt/default-blacklist': DOCKER_BLACKLIST,
  '@docker/default-whitelist': DOCKER_WHITELIST,
  '@docker/default-blacklist': DOCKER_BLACKLIST,
  '@systemd/clock': words('adjtimex clock_adjtime clock_adjtime64 clock_settime clock_settime64 settimeofday'),
  '@systemd/default-whitelist': words(`
arch_prctl brk cacheflush clock_getres clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep
clock_nanosleep_time64 execve exit exit_group futex futex_time64 futex_waitv get_robust_list get_thread_area
getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getpgid getpgrp getpid getppid
getrandom getresgid getresgid32 getresuid getresuid32 getrlimit getsid gettid gettimeofday getuid getuid32
membarrier mmap mmap2 mprotect munmap nanosleep pause prlimit64 restart_syscall riscv_flush_icache
riscv_hwprobe rseq rt_sigreturn sched_getaffinity sched_yield set_robust_list set_thread_area set_tid_address
set_tls sigreturn time ugetrlimit uretprobe`),
  '@systemd/mount': words(
    'chroot fsconfig fsmount fsopen fspick mount mount_setattr move_mount open_tree pivot_root umount umount2',
  ),
  '@systemd/network-io': words(`
accept accept4 bind connect getpeername getsockname getsockopt listen recv recvfrom recvmmsg recvmmsg_time64
recvmsg send sendmmsg sendmsg sendto setsockopt shutdown socket socketcall socketpair`),
  '@systemd/obsolete': words(`
_sysctl afs_syscall bdflush break create_module ftime get_kernel_syms getpmsg gtty idle lock mpx prof profil
putpmsg query_module security sgetmask ssetmask stime stty sysfs tuxcall ulimit uselib ustat vserver`),
  '@systemd/privileged': words(`
_sysctl acct adjtimex bpf capset chown chown32 chroot clock_adjtime clock_adjtime64 clock_settime
clock_settime64 delete_module fanotify_init fanotify_mark fchown fchown32 fchownat finit_module init_module
ioperm iopl kexec_file_load kexec_load lchown lchown32 nfsservctl open_by_handle_at pciconfig_iobase
pciconfig_read pciconfig_write pivot_root quotactl quotactl_fd reboot s390_pci_mmio_read s390_pci_mmio_write
setdomainname setfsuid setfsuid32 setgroups setgroups32 sethostname setresuid setresuid32 setreuid setreuid32
settimeofday setuid setuid32 swapoff swapon vhangup`),
  '@systemd/process': words(`
capget clone clone3 execveat fork getrusage kill pidfd_open pidfd_send_signal prctl rt_sigqueueinfo
rt_tgsigqueueinfo setns swapcontext tgkill times tkill unshare vfork wait4 waitid waitpid`),
  '@systemd/raw-io': words(
    'ioperm iopl pciconfig_iobase pciconfig_read pciconfig_write s390_pci_mmio_read s390_pci_mmio_write',
  ),
}

/** The filter an app gets without a seccomp isolator (see the top of this file). */
export const DEFAULT_FILTER: SeccompFilter = {
  mode: 'remove',
  errno: os.constants.errno.EPERM,
  syscalls: DOCKER_BLACKLIST,
}

/** Syscall names of a set, groups expanded; `all`/`empty` when it names appc's two special groups. */
export function resolveSeccompSet(set: readonly string[]): {syscalls: string[]; special?: 'all' | 'empty'} {
  const out = new Set<string>()
  for (const item of set) {
    if (item === '@appc.io/all') return {syscalls: [], special: 'all'}
    if (item === '@appc.io/empty') return {syscalls: [], special: 'empty'}
    if (!item.startsWith('@')) {
      out.add(item)
      continue
    }
    const group = SECCOMP_GROUPS[item]
    if (group === undefined) {
      throw new RktError(`unknown seccomp group ${item}`, {
        code: 'ESECCOMP',
        hint: `known groups: @appc.io/all, @appc.io/empty, ${Object.keys(SECCOMP_GROUPS).join(', ')}`,
      })
    }
    for (const s of group) out.add(s)
  }
  return {syscalls: [...out]}
}

/** An errno name (`EPERM`, `EXFULL`) as its number on Linux. */
export function errnoNumber(name: string): number {
  const n = Object.hasOwn(LINUX_ERRNO, name) ? LINUX_ERRNO[name] : undefined
  if (n === undefined) {
    throw new RktError(`seccomp errno ${name} is not an error name on Linux`, {
      code: 'ESECCOMP',
      hint: 'use a name from errno(3), e.g. EPERM or ENOSYS (note EACCES, not EACCESS)',
    })
  }
  return n
}

/**
 * The filter of one app from its seccomp isolator (at most one: the schema refuses two), or the default.
 * `disabled` is --insecure-options=seccomp.
 */
export function seccompFilter(
  isolator:
    {readonly name: string; readonly value: {readonly set: readonly string[]; readonly errno?: string}} | undefined,
  disabled: boolean,
): SeccompFilter {
  if (disabled) return {mode: 'none', syscalls: []}
  if (isolator === undefined) return DEFAULT_FILTER
  const {syscalls, special} = resolveSeccompSet(isolator.value.set)
  const errno = isolator.value.errno === undefined ? {} : {errno: errnoNumber(isolator.value.errno)}
  if (isolator.name === 'os/linux/seccomp-retain-set') {
    if (special === 'all') return {mode: 'none', syscalls: []}
    return {mode: 'retain', ...errno, syscalls}
  }
  if (special === 'empty') return DEFAULT_FILTER
  if (special === 'all') return {mode: 'retain', ...errno, syscalls: []} // every syscall removed
  return {mode: 'remove', ...errno, syscalls}
}
