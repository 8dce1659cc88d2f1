//! The ELF engine: writes the standalone ELF of [`crate::engine::elf`] for a batch of images and runs it
//! under `qemu-aarch64` ([`EngineKind::Qemu`], any host) or directly ([`EngineKind::Native`],
//! aarch64 Linux hosts), then turns the records it
//! prints into [`Outcome`]s. One process runs the whole batch; each process costs milliseconds,
//! so callers should batch.
//!
//! Where qemu comes from, in order: `$A64CALL_QEMU`; `.cache/qemu/usr/bin/qemu-aarch64` under the
//! repository (installed by `harness/setup`); `qemu-aarch64` or `qemu-aarch64-static` on PATH.

use super::{Access, ElfKind, Engine, EngineError, EngineKind, Exit, Outcome};
use crate::engine::elf::{self, Record};
use crate::layout;
use crate::machine::runtime::Image;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How the ELF is started.
#[derive(Clone, Debug)]
enum Runner {
    Qemu(PathBuf),
    Direct,
}

/// Runs images in a standalone ELF.
pub struct ElfEngine {
    runner: Runner,
    timeout_secs: u64,
    /// CPU time of the processes waited for since [`Engine::take_child_cpu`] last took it.
    child_cpu: Duration,
}

/// Reap `pid` (waiting for it when `block`): its exit status and the CPU time it used, or
/// `None` while it still runs.
fn reap(pid: u32, block: bool) -> std::io::Result<Option<(std::process::ExitStatus, Duration)>> {
    use std::os::unix::process::ExitStatusExt;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of the plain C struct wait4 fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let options = if block { 0 } else { libc::WNOHANG };
    // SAFETY: wait4 writes one int and one rusage through the valid pointers it is given.
    let r = unsafe { libc::wait4(pid as libc::pid_t, &mut status, options, &mut usage) };
    match r {
        0 => Ok(None),
        r if r < 0 => Err(std::io::Error::last_os_error()),
        _ => {
            let t = |v: libc::timeval| Duration::new(v.tv_sec as u64, v.tv_usec as u32 * 1000);
            let cpu = t(usage.ru_utime) + t(usage.ru_stime);
            Ok(Some((std::process::ExitStatus::from_raw(status), cpu)))
        }
    }
}

/// Find qemu-aarch64 as described in the module docs.
pub fn find_qemu() -> Result<PathBuf, EngineError> {
    if let Ok(p) = std::env::var("A64CALL_QEMU") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(EngineError::of(
                EngineKind::Qemu,
                format!("A64CALL_QEMU={} does not exist", p.display()),
            ))
        };
    }
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/qemu/usr/bin/qemu-aarch64");
    if local.is_file() {
        return Ok(local);
    }
    for name in ["qemu-aarch64", "qemu-aarch64-static"] {
        if let Some(dirs) = std::env::var_os("PATH") {
            for d in std::env::split_paths(&dirs) {
                let p = d.join(name);
                if p.is_file() {
                    return Ok(p);
                }
            }
        }
    }
    Err(EngineError::of(EngineKind::Qemu, "qemu-aarch64 not found: run harness/setup (installs it into .cache/qemu), or set A64CALL_QEMU".into()))
}

impl ElfEngine {
    /// The ELF engine of `kind`: under qemu-aarch64 (on any host), or run directly (aarch64
    /// Linux hosts only).
    pub fn for_kind(kind: ElfKind) -> Result<ElfEngine, EngineError> {
        let runner = match kind {
            ElfKind::Qemu => Runner::Qemu(find_qemu()?),
            ElfKind::Native => {
                EngineKind::from(kind).available()?;
                Runner::Direct
            }
        };
        Ok(ElfEngine {
            runner,
            timeout_secs: elf::PROGRAM_TIMEOUT_SECS,
            child_cpu: Duration::ZERO,
        })
    }

    /// The ELF engine under qemu-aarch64.
    pub fn new() -> Result<ElfEngine, EngineError> {
        ElfEngine::for_kind(ElfKind::Qemu)
    }

    /// Set the per-program time limit (a run it ends is [`Exit::Unsupported`], judged on
    /// Unicorn).
    pub fn with_timeout(mut self, secs: u64) -> ElfEngine {
        self.timeout_secs = secs.max(1);
        self
    }

    /// Run an ELF file, returning stdout and a description of how the process ended.
    fn exec(&mut self, path: &Path, timeout: Duration) -> Result<(Vec<u8>, String), EngineError> {
        let mut cmd = match &self.runner {
            Runner::Qemu(q) => {
                let mut c = Command::new(q);
                c.arg(path);
                c
            }
            Runner::Direct => Command::new(path),
        };
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                EngineError::of(self.kind(), format!("cannot start {:?}: {e}", self.runner))
            })?;
        // Both pipes are drained while the child runs, so neither can fill and block it.
        let mut stdout = child.stdout.take().expect("piped");
        let reader = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = stdout.read_to_end(&mut v);
            v
        });
        let mut stderr_pipe = child.stderr.take().expect("piped");
        let stderr_reader = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = stderr_pipe.read_to_end(&mut v);
            v
        });
        let start = Instant::now();
        let kind = self.kind();
        let wait_error = |e: std::io::Error| EngineError::of(kind, format!("wait: {e}"));
        let status = loop {
            if let Some((s, cpu)) = reap(child.id(), false).map_err(wait_error)? {
                self.child_cpu += cpu;
                break format!("{s}");
            }
            if start.elapsed() > timeout {
                let _ = child.kill();
                if let Some((_, cpu)) = reap(child.id(), true).map_err(wait_error)? {
                    self.child_cpu += cpu;
                }
                break format!("killed after {:.0} s", timeout.as_secs_f64());
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let out = reader
            .join()
            .map_err(|_| EngineError::of(self.kind(), "reader thread panicked".into()))?;
        let stderr = stderr_reader
            .join()
            .map_err(|_| EngineError::of(self.kind(), "reader thread panicked".into()))?;
        let stderr: String = String::from_utf8_lossy(&stderr)
            .lines()
            .filter(|l| !l.contains("madvise"))
            .take(3)
            .collect::<Vec<_>>()
            .join(" | ");
        Ok((
            out,
            if stderr.is_empty() {
                status
            } else {
                format!("{status}; stderr: {stderr}")
            },
        ))
    }
}

/// What a failed `mmap` of a program's pages means, from its return value (`-errno`).
fn map_failure(ret: u64) -> String {
    let errno = (ret as i64).checked_neg().filter(|e| (1..4096).contains(e));
    let why = match errno {
        Some(17) => "EEXIST: something is already mapped there (the emulator's own memory, or pages a previous program left)",
        Some(12) => "ENOMEM: no room for the pages in the address space",
        Some(22) => "EINVAL: the address or length is not acceptable to mmap",
        Some(1) | Some(13) => "EPERM/EACCES: mapping there is not permitted (vm.mmap_min_addr?)",
        Some(_) => "see errno(3)",
        None => "not an error code: mmap placed the pages elsewhere",
    };
    match errno {
        Some(e) => format!("could not map the program's pages: mmap failed with errno {e} ({why})"),
        None => format!("could not map the program's pages: mmap returned {ret:#x} ({why})"),
    }
}

/// The instruction word at `pc` in `image`, if `pc` is inside one of its segments.
fn word_at(image: &Image, pc: u64) -> Option<u32> {
    image
        .segments
        .iter()
        .find(|s| pc >= s.addr && pc + 4 <= s.end())
        .map(|s| {
            let o = (pc - s.addr) as usize;
            u32::from_le_bytes(s.bytes[o..o + 4].try_into().unwrap())
        })
}

/// Classify a SIGSEGV/SIGBUS the way Unicorn reports it: fetch when the pc itself faulted,
/// otherwise read or write from the faulting instruction's load/store bit.
fn access_of(image: &Image, pc: u64, fault: u64) -> Access {
    match word_at(image, pc) {
        _ if pc == fault => Access::Fetch,
        None => Access::Fetch,
        Some(w) if (w & 0x3B00_0000) == 0x1800_0000 => Access::Read, // ldr literal
        Some(w) if (w >> 22) & 1 == 1 => Access::Read,
        Some(_) => Access::Write,
    }
}

fn outcome(engine: EngineKind, image: &Image, r: Record) -> Result<Outcome, EngineError> {
    let exit = match r.status {
        elf::STATUS_RETURNED => Exit::Returned,
        // Not `Runaway`: the timer counts CPU time, which translation spends too (a correct
        // function of millions of small blocks can outlast it), not instructions, so a timeout
        // says nothing about the code. The image is judged on Unicorn instead, whose limit is
        // the instruction count the reference evaluation bounds.
        elf::STATUS_TIMEOUT => Exit::Unsupported(
            "the ELF engine's per-program CPU-time limit ended the run (a time limit, not an \
             instruction count)"
                .into(),
        ),
        elf::STATUS_SIGNAL => match r.signo {
            11 | 7 => Exit::Fault {
                access: access_of(image, r.pc, r.fault),
                addr: r.fault,
            },
            4 => Exit::InvalidInstruction,
            5 => Exit::breakpoint(word_at(image, r.pc)),
            s => Exit::Signal(s as i32),
        },
        elf::STATUS_MAP_FAILED => return Err(EngineError::of(engine, map_failure(r.fault))),
        s => {
            return Err(EngineError::of(
                engine,
                format!("record with unknown status {s}"),
            ))
        }
    };
    // No log (the cursor left the region) or not whole records: the calls are unknown.
    let (exit, calls) = super::calls_or_corrupt(exit, r.log.as_deref());
    Ok(Outcome {
        exit,
        pc: r.pc,
        regs: r.regs,
        sp: r.sp,
        nzcv: r.nzcv,
        scratch: r.scratch,
        calls,
        insns: None,
    })
}

/// An outcome with no machine state (the image did not run, or its record never came).
fn without_state(exit: Exit) -> Outcome {
    Outcome {
        exit,
        pc: 0,
        regs: [0; 31],
        sp: 0,
        nzcv: 0,
        scratch: vec![],
        calls: vec![],
        insns: None,
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl Engine for ElfEngine {
    fn kind(&self) -> EngineKind {
        match self.runner {
            Runner::Qemu(_) => EngineKind::Qemu,
            Runner::Direct => EngineKind::Native,
        }
    }

    fn run(&mut self, image: &Image) -> Result<Outcome, EngineError> {
        self.run_batch(&[image])
            .pop()
            .expect("one result per image")
    }

    fn take_child_cpu(&mut self) -> Duration {
        std::mem::take(&mut self.child_cpu)
    }

    /// Images holding an `svc` word are not run (see [`Exit::SystemCall`]): their outcome is
    /// [`Exit::Unsupported`] saying where the word is.
    fn run_batch(&mut self, images: &[&Image]) -> Vec<Result<Outcome, EngineError>> {
        let svc: Vec<Option<u64>> = images.iter().map(|i| i.system_call_at()).collect();
        let allowed: Vec<&Image> = images
            .iter()
            .zip(&svc)
            .filter(|(_, s)| s.is_none())
            .map(|(i, _)| *i)
            .collect();
        let mut ran = self.run_allowed(&allowed).into_iter();
        svc.iter()
            .map(|s| match s {
                None => ran.next().expect("one result per image run"),
                Some(addr) => Ok(without_state(Exit::Unsupported(format!(
                    "an svc word at {addr:#x}: the ELF engine would make that system call for \
                     real, so it does not run this image"
                )))),
            })
            .collect()
    }
}

impl ElfEngine {
    /// Run `images` (none holding an `svc` word) in one ELF process; when one of them ends the
    /// process, it is reported truncated and the ones after it run in a new process, as they do
    /// after an image whose pages could not be mapped (an engine error for that image).
    fn run_allowed(&mut self, images: &[&Image]) -> Vec<Result<Outcome, EngineError>> {
        if images.is_empty() {
            return Vec::new();
        }
        let engine = self.kind();
        let (out, status) = match self.run_process(images) {
            Ok(x) => x,
            Err(e) => return images.iter().map(|_| Err(e.clone())).collect(),
        };
        let Some(out) = elf::after_started(&out) else {
            let e = EngineError::of(
                engine,
                format!(
                    "the ELF runner never started under {} (process {status}, {} bytes of \
                     output, none of them its start word): check A64CALL_QEMU, or run \
                     harness/setup for the pinned qemu-aarch64",
                    self.runner_name(),
                    out.len()
                ),
            );
            return images.iter().map(|_| Err(e.clone())).collect();
        };
        let (records, problem) = elf::parse_records(out);
        let mut results = Vec::with_capacity(images.len());
        let mut recs = records.into_iter();
        for (i, img) in images.iter().enumerate() {
            match recs.next() {
                Some(r) if r.index == i as u64 && r.status == elf::STATUS_MAP_FAILED => {
                    // The runner ends the process after a map failure (no half-mapped program
                    // is left behind): the images after it run in a new process.
                    results.push(outcome(engine, img, r));
                    results.extend(self.run_allowed(&images[i + 1..]));
                    break;
                }
                Some(r) if r.index == i as u64 => results.push(outcome(engine, img, r)),
                Some(r) => {
                    results.push(Err(EngineError::of(
                        engine,
                        format!("record {} arrived where {i} was expected", r.index),
                    )));
                }
                None => {
                    // Image i ended the process (or its output): it is the one truncated; the
                    // images after it run again in a process of their own.
                    let why = match &problem {
                        Some(p) => format!("{p}; process {status}"),
                        None => format!(
                            "no record: process {status} after {i} of {} programs",
                            images.len()
                        ),
                    };
                    results.push(Ok(without_state(Exit::Truncated(why))));
                    results.extend(self.run_allowed(&images[i + 1..]));
                    break;
                }
            }
        }
        results
    }

    /// What runs the ELF: the qemu binary's path, or "the host" for native runs.
    fn runner_name(&self) -> String {
        match &self.runner {
            Runner::Qemu(q) => q.display().to_string(),
            Runner::Direct => "the host".into(),
        }
    }

    /// Write the ELF of `images`, run it and return its output and exit status.
    fn run_process(&mut self, images: &[&Image]) -> Result<(Vec<u8>, String), EngineError> {
        let engine = self.kind();
        let bytes = elf::build(images, self.timeout_secs);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("a64call-{}-{n}.elf", std::process::id()));
        let mut run = || -> Result<(Vec<u8>, String), EngineError> {
            std::fs::write(&path, &bytes)
                .map_err(|e| EngineError::of(engine, format!("write {}: {e}", path.display())))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                    .map_err(|e| EngineError::of(engine, format!("chmod: {e}")))?;
            }
            // Wall-clock guard over the programs' CPU-time timers: generous, for a loaded machine.
            let timeout =
                Duration::from_secs(60 + images.len() as u64 * 4 * (self.timeout_secs + 1));
            self.exec(&path, timeout)
        };
        let result = run();
        let _ = std::fs::remove_file(&path);
        result
    }
}

impl ElfEngine {
    /// The ELF engine for a test, or `None` when `A64CALL_SKIP_QEMU` is set (the README's
    /// documented opt-out, said on stderr). An engine that cannot be made is a panic naming the
    /// problem: a missing qemu must fail a test run, not pass it.
    #[doc(hidden)]
    pub fn for_tests() -> Option<ElfEngine> {
        if std::env::var_os("A64CALL_SKIP_QEMU").is_some() {
            eprintln!("skipped: A64CALL_SKIP_QEMU is set");
            return None;
        }
        match ElfEngine::new() {
            Ok(e) => Some(e),
            Err(e) => panic!("{e} (set A64CALL_SKIP_QEMU=1 to skip the qemu tests explicitly)"),
        }
    }
}

/// Fixed-region sanity: the ELF's own regions must stay below the program address space.
const _: () = assert!(layout::LOG_ADDR + layout::LOG_BYTES <= 0x0300_0000);

#[cfg(test)]
mod tests;
