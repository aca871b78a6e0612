//! CPU pinning, so "per server CPU-second" figures are clean on a small machine: the
//! server on one core, the load generator on another (Linux `sched_setaffinity`).

use anyhow::Context;

/// Pins every thread of process `pid` (and so the threads they start later) to `cpu`.
/// Returns how many threads were pinned.
///
/// # Errors
/// No such process, or the kernel refused (another user's process, no such CPU).
pub fn pin_process(pid: u32, cpu: usize) -> anyhow::Result<usize> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .with_context(|| format!("no process {pid}"))?;
    let mut pinned = 0;
    for task in tasks {
        let tid: i32 = task?
            .file_name()
            .to_string_lossy()
            .parse()
            .context("a thread id")?;
        match pin_thread(tid, cpu) {
            Ok(()) => pinned += 1,
            // The thread ended between listing and pinning.
            Err(Pinning::Gone) => {}
            Err(Pinning::Refused(e)) => return Err(e),
        }
    }
    Ok(pinned)
}

/// Pins this process (all its current threads) to `cpu`.
///
/// # Errors
/// As [`pin_process`].
pub fn pin_self(cpu: usize) -> anyhow::Result<usize> {
    pin_process(std::process::id(), cpu)
}

/// Why a thread was not pinned.
enum Pinning {
    /// It no longer exists.
    Gone,
    Refused(anyhow::Error),
}

fn pin_thread(tid: i32, cpu: usize) -> Result<(), Pinning> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(Pinning::Refused(anyhow::anyhow!("no CPU {cpu}")));
    }
    // SAFETY: `set` is a plain bit set initialised by CPU_ZERO; the call only reads it.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ESRCH) {
            return Err(Pinning::Gone);
        }
        return Err(Pinning::Refused(anyhow::anyhow!(
            "cannot pin thread {tid} to CPU {cpu}: {e}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_this_process_to_one_cpu() {
        let threads = pin_self(0).unwrap();
        assert!(threads >= 1);
        let allowed = std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find(|l| l.starts_with("Cpus_allowed_list:"))
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string();
        assert_eq!(allowed, "0");
        assert!(pin_self(100_000).is_err());
    }
}
