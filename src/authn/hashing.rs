//! Where argon2id runs: a pool of one thread per core, apart from the
//! threads that serve requests.
//!
//! - **Bounded**: at most one hash per core at once; requests beyond that
//!   queue (they are not refused).
//! - **Tokens first**: the pool's threads run under Linux's `SCHED_IDLE`
//!   policy, so during a login storm a request thread that wakes takes the
//!   CPU from a hash at once — a token request never waits behind a hash —
//!   and hashing gets every cycle left over. (At nice 15 a waking request
//!   thread could still wait out part of the hash's time slice; the change
//!   measured inside the noise of that day's probe, which shared the bench's
//!   runtime with the storm. With the probe on its own thread the storm's
//!   token p99 is 0.89–1.31× its p99 alone.) The price:
//!   under a load that keeps every core busy with requests, sign-ins wait
//!   for it to ease, as they would for a free core.
//! - **Memory reused, then returned**: each thread keeps one argon2 block
//!   (12 MiB; larger while verifying a hash of older parameters) while it
//!   is busy (no allocation per hash) and frees it after
//!   `IDLE` without work. glibc would keep freed large blocks in per-thread
//!   arenas for good (its mmap threshold rises after the first large free),
//!   so `tune_allocator` makes every allocation of 1 MiB or more its own
//!   mapping, unmapped when freed, and a thread going quiet also trims the
//!   heaps (`trim_heaps`): RSS returns near its idle size after a storm
//!   instead of staying hundreds of MB higher.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use argon2::Block;

/// How long a pool thread keeps its memory block without work.
const IDLE: Duration = Duration::from_secs(5);
/// The nice value of the pool's threads where `SCHED_IDLE` is refused (0 is
/// the default; 19 the lowest).
const NICE: i32 = 15;

type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

static POOL: LazyLock<Option<flume::Sender<Job>>> = LazyLock::new(start);

/// Hashes running now, and the most seen at once (a gauge, and the bound's test).
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
pub(super) static MOST_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

pub fn threads() -> usize {
    std::thread::available_parallelism().map(usize::from).unwrap_or(1)
}

fn start() -> Option<flume::Sender<Job>> {
    tune_allocator();
    let (tx, rx) = flume::unbounded::<Job>();
    for i in 0..threads() {
        let rx = rx.clone();
        let spawned = std::thread::Builder::new().name(format!("argon2-{i}")).spawn(move || work(&rx));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start a password-hashing thread");
            return None;
        }
    }
    Some(tx)
}

fn work(jobs: &flume::Receiver<Job>) {
    lower_priority();
    let mut memory: Vec<Block> = Vec::new();
    loop {
        let job = match jobs.recv_timeout(IDLE) {
            Ok(job) => job,
            Err(flume::RecvTimeoutError::Timeout) => {
                // Quiet: give the block back to the system, then wait.
                memory = Vec::new();
                trim_heaps();
                match jobs.recv() {
                    Ok(job) => job,
                    Err(_) => return,
                }
            }
            Err(flume::RecvTimeoutError::Disconnected) => return,
        };
        let now = IN_FLIGHT.fetch_add(1, Ordering::SeqCst) + 1;
        MOST_IN_FLIGHT.fetch_max(now, Ordering::SeqCst);
        metrics::gauge!("scaikey_password_hashes_in_flight").set(now as f64);
        job(&mut memory);
        let left = IN_FLIGHT.fetch_sub(1, Ordering::SeqCst).saturating_sub(1);
        metrics::gauge!("scaikey_password_hashes_in_flight").set(left as f64);
    }
}

/// Runs `job` on the pool with the thread's memory block, once a thread is
/// free; `None` if the pool could not start.
pub async fn run<T: Send + 'static>(job: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let pool = POOL.as_ref()?;
    pool.send_async(Box::new(move |memory: &mut Vec<Block>| {
        let _ = tx.send(job(memory));
    }))
    .await
    .ok()?;
    rx.await.ok()
}

/// `memory` grown to at least `blocks` (a stored hash with other parameters
/// may need more than the current ones).
pub fn at_least(memory: &mut Vec<Block>, blocks: usize) -> &mut [Block] {
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    memory.get_mut(..blocks).unwrap_or_default()
}

/// Returns the free pages inside glibc's heaps to the system: a storm's
/// sign-ins (pages, forms, sessions, login requests) leave freed memory
/// scattered through the arenas, which otherwise stays resident (about
/// 10 MB above the idle size a minute after a 200-connection storm). Runs
/// when a hashing thread goes quiet, so once at the end of a storm.
fn trim_heaps() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory the allocator holds free.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// This thread yields the CPU to the request threads: `SCHED_IDLE` (any
/// thread may lower itself to it; for the calling thread, pid 0), or nice
/// `NICE` if that is refused (`setpriority` on a Linux thread id sets that
/// thread's nice value).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on this thread's own id; `param` outlives the call.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        if libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) != 0 {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, NICE);
        }
    }
}

/// The allocator's settings for a long-running server (glibc): every
/// allocation of 1 MiB or more becomes its own mapping, returned to the
/// system when freed (see the module's documentation), and at most two
/// arenas, so memory freed by one of the many short-lived blocking
/// threads is not stranded in an arena of its own. Called first thing in
/// `main` and again (harmlessly) when the pool starts.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
