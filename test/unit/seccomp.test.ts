import test from 'ava';
import fs from 'node:fs';
import { compileSeccomp, parseSeccompProfile, seccompVerdict } from '../../src/runtime/seccomp.js';
import { defaultSeccompProfile } from '../../src/runtime/seccomp-default.js';
import { defaultCapabilities } from '../../src/runtime/security.js';

const x86 = { arch: 'x64', kernel: '6.1.0-13-amd64' };
const allowed = (caps: string[], name: string, args: number[] = []) =>
  seccompVerdict(compileSeccomp(defaultSeccompProfile, caps, x86), name, args).action === 'SCMP_ACT_ALLOW';

test('the default profile allows what a container needs and refuses host-wide calls with EPERM', (t) => {
  const compiled = compileSeccomp(defaultSeccompProfile, defaultCapabilities, x86);
  t.deepEqual(compiled.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  for (const name of ['read', 'openat', 'execve', 'arch_prctl', 'socket', 'chroot', 'ptrace']) t.true(allowed(defaultCapabilities, name), name);
  for (const name of ['mount', 'unshare', 'setns', 'kexec_load', 'init_module', 'reboot', 'swapon', 'keyctl', 'add_key', 'acct', 'settimeofday', 'open_by_handle_at', 'bpf']) {
    t.deepEqual(seccompVerdict(compiled, name), { action: 'SCMP_ACT_ERRNO', errno: 1 }, name);
  }
  t.deepEqual(seccompVerdict(compiled, 'clone3'), { action: 'SCMP_ACT_ERRNO', errno: 38 }, 'clone3 looks unimplemented so libc falls back to clone');
});

test('clone is allowed without namespace flags; CAP_SYS_ADMIN opens namespaces and mounts', (t) => {
  const SIGCHLD = 17;
  const CLONE_NEWUSER = 0x10000000;
  t.true(allowed(defaultCapabilities, 'clone', [SIGCHLD]));
  t.false(allowed(defaultCapabilities, 'clone', [SIGCHLD | CLONE_NEWUSER]));
  const admin = [...defaultCapabilities, 'CAP_SYS_ADMIN'];
  for (const name of ['unshare', 'mount', 'setns', 'clone3']) t.true(allowed(admin, name), name);
  t.true(allowed(admin, 'clone', [SIGCHLD | CLONE_NEWUSER]));
  t.false(allowed([], 'chroot'), 'chroot needs CAP_SYS_CHROOT');
  t.true(allowed(['CAP_SYS_TIME'], 'settimeofday'));
  t.true(allowed([], 'personality', [0]));
  t.false(allowed([], 'personality', [0x0040000]), 'READ_IMPLIES_EXEC is refused');
});

test('architecture- and kernel-specific rules are kept only where they apply', (t) => {
  const arm = compileSeccomp(defaultSeccompProfile, defaultCapabilities, { arch: 'arm64', kernel: '6.1.0' });
  t.deepEqual(arm.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  t.is(seccompVerdict(arm, 'arch_prctl').action, 'SCMP_ACT_ERRNO');
  t.is(seccompVerdict(arm, 'cacheflush').action, 'SCMP_ACT_ALLOW');
  const old = compileSeccomp(defaultSeccompProfile, defaultCapabilities, { arch: 'x64', kernel: '4.4.0' });
  t.is(seccompVerdict(old, 'ptrace').action, 'SCMP_ACT_ERRNO', 'ptrace could bypass seccomp before 4.8');
});

// The verdicts podman's default profile (containers-common) gives for the same calls. Podman departs from Docker
// on namespace calls (mount, unshare, setns, clone flags and keyctl are open to every container there), so those
// are checked against Docker's verdicts in the tests above instead.
const podmanProfile = '/usr/share/containers/seccomp.json';
(fs.existsSync(podmanProfile) ? test : test.skip)('verdicts match podman\'s default profile for a list of syscalls', (t) => {
  const podman = compileSeccomp(parseSeccompProfile(fs.readFileSync(podmanProfile, 'utf8'), podmanProfile), defaultCapabilities, x86);
  const ours = compileSeccomp(defaultSeccompProfile, defaultCapabilities, x86);
  const calls = [
    'read', 'write', 'openat', 'close', 'mmap', 'mprotect', 'brk', 'rt_sigaction', 'ioctl', 'pread64', 'execve', 'execveat', 'fork',
    'vfork', 'wait4', 'kill', 'uname', 'fcntl', 'flock', 'fsync', 'getdents64', 'getcwd', 'chdir', 'rename', 'mkdir', 'rmdir',
    'link', 'unlink', 'symlink', 'chmod', 'chown', 'umask', 'gettimeofday', 'getrlimit', 'setrlimit', 'getuid', 'setuid', 'setgid',
    'setgroups', 'capget', 'capset', 'prctl', 'arch_prctl', 'futex', 'epoll_wait', 'epoll_ctl', 'socket', 'connect', 'accept4',
    'sendto', 'recvfrom', 'bind', 'listen', 'setsockopt', 'clock_gettime', 'clock_nanosleep', 'statx', 'memfd_create',
    'inotify_init1', 'eventfd2', 'signalfd4', 'timerfd_create', 'pidfd_open', 'close_range', 'openat2', 'faccessat2', 'rseq',
    'io_setup', 'io_submit', 'mknod', 'chroot', 'getrandom', 'copy_file_range', 'landlock_create_ruleset', 'modify_ldt',
    'kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module', 'swapon', 'swapoff', 'acct', 'settimeofday',
    'clock_settime', 'open_by_handle_at', 'iopl', 'ioperm', 'bpf', 'perf_event_open', 'quotactl', 'lookup_dcookie',
    'vhangup', 'nfsservctl', 'uselib', 'ustat', 'sysfs', 'kcmp', 'process_madvise', 'userfaultfd', 'vm86',
  ];
  const differ = calls.filter((name) => seccompVerdict(ours, name).action !== seccompVerdict(podman, name).action);
  t.deepEqual(differ, [], `calls on which Roost and podman disagree: ${differ.join(', ')}`);
});

test('profile files with mistakes are refused with the reason', (t) => {
  t.throws(() => parseSeccompProfile('[]', 'p.json'), { message: /p.json: a seccomp profile is a JSON object/ });
  t.throws(() => parseSeccompProfile('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"ALLOW"}]}', 'p.json'), { message: /syscalls\[0\] has an unknown action "ALLOW"/ });
  t.throws(() => parseSeccompProfile('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"action":"SCMP_ACT_ALLOW"}]}', 'p.json'), { message: /needs "names"/ });
  t.throws(() => parseSeccompProfile('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":9,"value":1,"op":"SCMP_CMP_EQ"}]}]}', 'p.json'), { message: /index outside 0..5/ });
});
