//! Wake-ups at deadlines for async waits, from one process-wide timer thread.
//!
//! An async call waiting on a host function must end at its `timeout_ms` even when
//! nothing else wakes it, and interplug depends on no executor's timers. So a waiting
//! call sets an [`Alarm`]: one thread, started at the first alarm, sleeps until the
//! earliest deadline and wakes the waiting tasks whose deadlines have passed. An alarm
//! dropped before its deadline (the wait ended) is removed.

use alloc::{collections::BTreeMap, sync::Arc, vec::Vec};
use core::task::Waker;
use std::{
    sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError},
    time::Instant,
};

/// The alarms, by deadline (and a sequence number: several may share one).
#[derive(Default)]
struct Alarms {
    by_deadline: BTreeMap<(Instant, u64), Waker>,
    next: u64,
}

/// The timer thread's state.
#[derive(Default)]
struct Timer {
    alarms: Mutex<Alarms>,
    /// Signalled when an alarm earlier than every other is set.
    earlier: Condvar,
}

impl Timer {
    fn lock(&self) -> MutexGuard<'_, Alarms> {
        // Only this module takes the lock and nothing in it panics while holding it.
        self.alarms.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The timer thread: wakes what is due, sleeps until the next deadline.
    fn run(&self) {
        let mut alarms = self.lock();
        loop {
            let now = Instant::now();
            let mut due = Vec::new();
            while let Some(first) = alarms.by_deadline.first_entry() {
                if first.key().0 > now {
                    break;
                }
                due.push(first.remove());
            }
            if !due.is_empty() {
                drop(alarms);
                due.into_iter().for_each(Waker::wake);
                alarms = self.lock();
                continue;
            }
            let next = alarms.by_deadline.keys().next().map(|(at, _)| *at);
            alarms = match next {
                Some(at) => {
                    self.earlier
                        .wait_timeout(alarms, at.saturating_duration_since(now))
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => self
                    .earlier
                    .wait(alarms)
                    .unwrap_or_else(PoisonError::into_inner),
            };
        }
    }
}

/// The process's timer, its thread started on first use; `None` where threads cannot
/// be started (e.g. `wasm32-wasip1`).
fn timer() -> Option<&'static Timer> {
    static TIMER: OnceLock<Option<Arc<Timer>>> = OnceLock::new();
    TIMER
        .get_or_init(|| {
            let timer = Arc::new(Timer::default());
            let thread_timer = timer.clone();
            std::thread::Builder::new()
                .name(alloc::string::String::from("interplug-timer"))
                .spawn(move || thread_timer.run())
                .ok()
                .map(|_| timer)
        })
        .as_deref()
}

/// A wake-up of a task at a deadline; dropping it takes it back.
#[derive(Debug)]
pub(crate) struct Alarm {
    key: (Instant, u64),
}

impl Alarm {
    /// Wakes `waker` at `at`; `None` when this platform has no timer thread.
    pub(crate) fn set(at: Instant, waker: &Waker) -> Option<Alarm> {
        let timer = timer()?;
        let mut alarms = timer.lock();
        let key = (at, alarms.next);
        alarms.next = alarms.next.wrapping_add(1);
        let earliest = alarms
            .by_deadline
            .keys()
            .next()
            .is_none_or(|first| key < *first);
        alarms.by_deadline.insert(key, waker.clone());
        drop(alarms);
        if earliest {
            timer.earlier.notify_one();
        }
        Some(Alarm { key })
    }

    /// Wakes `waker` instead (the task was polled with another one); sets the alarm
    /// again if it already went off.
    pub(crate) fn update(&mut self, waker: &Waker) {
        let Some(timer) = timer() else { return };
        let mut alarms = timer.lock();
        match alarms.by_deadline.get_mut(&self.key) {
            Some(old) if old.will_wake(waker) => {}
            Some(old) => *old = waker.clone(),
            None => {
                drop(alarms);
                if let Some(again) = Alarm::set(self.key.0, waker) {
                    // The old key is gone; forget it without running `drop`'s removal.
                    self.key = again.key;
                    core::mem::forget(again);
                }
            }
        }
    }
}

impl Drop for Alarm {
    fn drop(&mut self) {
        if let Some(timer) = timer() {
            timer.lock().by_deadline.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{sync::atomic::AtomicUsize, sync::atomic::Ordering, task::Wake, time::Duration};

    struct Count(AtomicUsize, std::thread::Thread);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
            self.1.unpark();
        }
    }

    #[test]
    fn alarms_wake_at_their_deadline_and_dropped_ones_never() {
        let count = Arc::new(Count(AtomicUsize::new(0), std::thread::current()));
        let waker = Waker::from(count.clone());
        let start = Instant::now();
        let _later = Alarm::set(start + Duration::from_millis(30), &waker).expect("timer");
        let dropped = Alarm::set(start + Duration::from_millis(10), &waker).expect("timer");
        drop(dropped);
        while count.0.load(Ordering::SeqCst) == 0 {
            std::thread::park_timeout(Duration::from_millis(100));
        }
        assert!(start.elapsed() >= Duration::from_millis(30));
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            1,
            "the dropped alarm never fires"
        );
    }
}
