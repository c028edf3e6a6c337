/* The GPU worker's sandbox: rlimits and a seccomp allow-list written as
 * raw BPF (no libseccomp needed). It is installed after the driver is
 * initialised, so it only has to allow what running guests and kernels
 * needs: memory management (mmap, mprotect, madvise for guest memories
 * and the driver), ioctl (the driver talks to /dev/nvidia* that way),
 * threads and futexes, signals (guest traps), clocks, the inherited
 * socket (recvmsg/sendmsg), memfds for bodies, and opening files (the
 * driver and libtcc read theirs). Everything else fails with EPERM —
 * among it socket(), connect(), bind(), listen(), accept(), execve(),
 * ptrace(), process_vm_readv/writev, mount, bpf, kexec, keyctl — and an
 * architecture other than the one we were built for kills the process.
 */
#include <errno.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "gpu/gpu_int.h"

#if defined(__x86_64__)
#define TW_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TW_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

/* Allowed system calls. Names that an architecture lacks are skipped. */
static const int allowed[] = {
#define A(name) SYS_##name,
#ifdef SYS_read
    A(read)
#endif
#ifdef SYS_write
    A(write)
#endif
#ifdef SYS_readv
    A(readv)
#endif
#ifdef SYS_writev
    A(writev)
#endif
#ifdef SYS_pread64
    A(pread64)
#endif
#ifdef SYS_pwrite64
    A(pwrite64)
#endif
#ifdef SYS_open
    A(open)
#endif
#ifdef SYS_openat
    A(openat)
#endif
#ifdef SYS_close
    A(close)
#endif
#ifdef SYS_fstat
    A(fstat)
#endif
#ifdef SYS_stat
    A(stat)
#endif
#ifdef SYS_lstat
    A(lstat)
#endif
#ifdef SYS_newfstatat
    A(newfstatat)
#endif
#ifdef SYS_statx
    A(statx)
#endif
#ifdef SYS_lseek
    A(lseek)
#endif
#ifdef SYS_access
    A(access)
#endif
#ifdef SYS_faccessat
    A(faccessat)
#endif
#ifdef SYS_faccessat2
    A(faccessat2)
#endif
#ifdef SYS_readlink
    A(readlink)
#endif
#ifdef SYS_readlinkat
    A(readlinkat)
#endif
#ifdef SYS_getdents64
    A(getdents64)
#endif
#ifdef SYS_getcwd
    A(getcwd)
#endif
#ifdef SYS_fcntl
    A(fcntl)
#endif
#ifdef SYS_dup
    A(dup)
#endif
#ifdef SYS_dup2
    A(dup2)
#endif
#ifdef SYS_dup3
    A(dup3)
#endif
#ifdef SYS_pipe2
    A(pipe2)
#endif
#ifdef SYS_ioctl
    A(ioctl)
#endif
#ifdef SYS_mmap
    A(mmap)
#endif
#ifdef SYS_munmap
    A(munmap)
#endif
#ifdef SYS_mprotect
    A(mprotect)
#endif
#ifdef SYS_mremap
    A(mremap)
#endif
#ifdef SYS_madvise
    A(madvise)
#endif
#ifdef SYS_brk
    A(brk)
#endif
#ifdef SYS_mlock
    A(mlock)
#endif
#ifdef SYS_munlock
    A(munlock)
#endif
#ifdef SYS_get_mempolicy
    A(get_mempolicy)
#endif
#ifdef SYS_mbind
    A(mbind)
#endif
#ifdef SYS_memfd_create
    A(memfd_create)
#endif
#ifdef SYS_ftruncate
    A(ftruncate)
#endif
#ifdef SYS_fallocate
    A(fallocate)
#endif
#ifdef SYS_clone
    A(clone)
#endif
#ifdef SYS_clone3
    A(clone3)
#endif
#ifdef SYS_futex
    A(futex)
#endif
#ifdef SYS_set_robust_list
    A(set_robust_list)
#endif
#ifdef SYS_rseq
    A(rseq)
#endif
#ifdef SYS_set_tid_address
    A(set_tid_address)
#endif
#ifdef SYS_exit
    A(exit)
#endif
#ifdef SYS_exit_group
    A(exit_group)
#endif
#ifdef SYS_rt_sigaction
    A(rt_sigaction)
#endif
#ifdef SYS_rt_sigprocmask
    A(rt_sigprocmask)
#endif
#ifdef SYS_rt_sigreturn
    A(rt_sigreturn)
#endif
#ifdef SYS_sigaltstack
    A(sigaltstack)
#endif
#ifdef SYS_tgkill
    A(tgkill)
#endif
#ifdef SYS_getpid
    A(getpid)
#endif
#ifdef SYS_gettid
    A(gettid)
#endif
#ifdef SYS_getppid
    A(getppid)
#endif
#ifdef SYS_getuid
    A(getuid)
#endif
#ifdef SYS_geteuid
    A(geteuid)
#endif
#ifdef SYS_getgid
    A(getgid)
#endif
#ifdef SYS_getegid
    A(getegid)
#endif
#ifdef SYS_sched_yield
    A(sched_yield)
#endif
#ifdef SYS_sched_getaffinity
    A(sched_getaffinity)
#endif
#ifdef SYS_sched_setaffinity
    A(sched_setaffinity)
#endif
#ifdef SYS_sched_getparam
    A(sched_getparam)
#endif
#ifdef SYS_sched_getscheduler
    A(sched_getscheduler)
#endif
#ifdef SYS_getpriority
    A(getpriority)
#endif
#ifdef SYS_setpriority
    A(setpriority)
#endif
#ifdef SYS_nanosleep
    A(nanosleep)
#endif
#ifdef SYS_clock_nanosleep
    A(clock_nanosleep)
#endif
#ifdef SYS_clock_gettime
    A(clock_gettime)
#endif
#ifdef SYS_clock_getres
    A(clock_getres)
#endif
#ifdef SYS_gettimeofday
    A(gettimeofday)
#endif
#ifdef SYS_poll
    A(poll)
#endif
#ifdef SYS_ppoll
    A(ppoll)
#endif
#ifdef SYS_select
    A(select)
#endif
#ifdef SYS_pselect6
    A(pselect6)
#endif
#ifdef SYS_epoll_create1
    A(epoll_create1)
#endif
#ifdef SYS_epoll_ctl
    A(epoll_ctl)
#endif
#ifdef SYS_epoll_wait
    A(epoll_wait)
#endif
#ifdef SYS_epoll_pwait
    A(epoll_pwait)
#endif
#ifdef SYS_eventfd2
    A(eventfd2)
#endif
#ifdef SYS_recvmsg
    A(recvmsg)
#endif
#ifdef SYS_sendmsg
    A(sendmsg)
#endif
#ifdef SYS_recvfrom
    A(recvfrom)
#endif
#ifdef SYS_sendto
    A(sendto)
#endif
#ifdef SYS_shutdown
    A(shutdown)
#endif
#ifdef SYS_getsockopt
    A(getsockopt)
#endif
#ifdef SYS_prctl
    A(prctl)
#endif
#ifdef SYS_getrlimit
    A(getrlimit)
#endif
#ifdef SYS_prlimit64
    A(prlimit64)
#endif
#ifdef SYS_getrusage
    A(getrusage)
#endif
#ifdef SYS_sysinfo
    A(sysinfo)
#endif
#ifdef SYS_uname
    A(uname)
#endif
#ifdef SYS_getrandom
    A(getrandom)
#endif
#ifdef SYS_membarrier
    A(membarrier)
#endif
#ifdef SYS_unlink
    A(unlink)
#endif
#ifdef SYS_unlinkat
    A(unlinkat)
#endif
#ifdef SYS_mkdir
    A(mkdir)
#endif
#ifdef SYS_mkdirat
    A(mkdirat)
#endif
#ifdef SYS_rename
    A(rename)
#endif
#ifdef SYS_renameat
    A(renameat)
#endif
#ifdef SYS_flock
    A(flock)
#endif
#ifdef SYS_fsync
    A(fsync)
#endif
#ifdef SYS_fdatasync
    A(fdatasync)
#endif
#ifdef SYS_set_mempolicy
    A(set_mempolicy)
#endif
#ifdef SYS_pipe
    A(pipe)
#endif
#ifdef SYS_timerfd_create
    A(timerfd_create)
#endif
#ifdef SYS_timerfd_settime
    A(timerfd_settime)
#endif
#ifdef SYS_timerfd_gettime
    A(timerfd_gettime)
#endif
#ifdef SYS_epoll_create
    A(epoll_create)
#endif
#ifdef SYS_epoll_pwait2
    A(epoll_pwait2)
#endif
#ifdef SYS_sched_getattr
    A(sched_getattr)
#endif
#ifdef SYS_getcpu
    A(getcpu)
#endif
#ifdef SYS_fstatfs
    A(fstatfs)
#endif
#ifdef SYS_statfs
    A(statfs)
#endif
#ifdef SYS_times
    A(times)
#endif
#ifdef SYS_restart_syscall
    A(restart_syscall)
#endif
#undef A
};

int tw__gpu_seccomp_install(void) {
#ifndef TW_AUDIT_ARCH
  return -ENOSYS;
#else
  enum { N = sizeof allowed / sizeof allowed[0] };
  /* load arch; kill on mismatch; load nr; one JEQ per allowed call;
   * default EPERM; allow. */
  struct sock_filter f[4 + N + 2];
  size_t i = 0;
  f[i++] = (struct sock_filter)BPF_STMT(
      BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
  f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                        TW_AUDIT_ARCH, 1, 0);
  f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
                                        SECCOMP_RET_KILL_PROCESS);
  f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                        offsetof(struct seccomp_data, nr));
  for (size_t k = 0; k < N; k++)
    /* match: jump over the remaining tests and the EPERM to ALLOW */
    f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                          (unsigned)allowed[k],
                                          (unsigned char)(N - k), 0);
  f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
                                        SECCOMP_RET_ERRNO | (EPERM & 0xffff));
  f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  _Static_assert(N < 250, "jump offsets are 8 bits");
  struct sock_fprog prog = {(unsigned short)i, f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -errno;
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0)
    return -errno;
  return 0;
#endif
}

void tw__gpu_worker_rlimits(void) {
  struct rlimit r;
  r.rlim_cur = r.rlim_max = 0;
  setrlimit(RLIMIT_CORE, &r); /* guest memory must not land in core files */
  r.rlim_cur = r.rlim_max = 4096;
  struct rlimit cur;
  if (getrlimit(RLIMIT_NOFILE, &cur) == 0 && cur.rlim_max < r.rlim_max)
    r.rlim_cur = r.rlim_max = cur.rlim_max;
  setrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = r.rlim_max = 1ull << 30; /* files a worker may write */
  setrlimit(RLIMIT_FSIZE, &r);
}
