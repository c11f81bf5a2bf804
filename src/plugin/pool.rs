//! `Pool`: plug-in instances made on demand and lent to many threads, in the shape of
//! the `extism` crate's pool.
//!
//! A pool holds a function that makes a [`Plugin`] (usually
//! `Plugin::new_from_compiled` on a shared [`CompiledPlugin`](crate::CompiledPlugin)).
//! [`Pool::get`] lends an idle instance, makes a new one while fewer than
//! `max_instances` exist, or waits up to a timeout for one to come back. An instance
//! returns to the pool when its [`PoolPlugin`] is dropped. As with the official
//! runtime, a checkout does not instantiate a new plug-in: its first call does.
//!
//! # Examples
//!
//! ```
//! use interplug::{CompiledPlugin, Plugin, PluginBuilder, PoolBuilder, Wasm, Manifest};
//! use std::time::Duration;
//!
//! let manifest = Manifest::new([Wasm::file("spec-tests/fixtures/count_vowels.wasm")]);
//! let compiled = CompiledPlugin::new(PluginBuilder::new(manifest))?;
//! let pool = PoolBuilder::new()
//!     .with_max_instances(2)
//!     .build(move || Plugin::new_from_compiled(&compiled));
//! let output: String = pool
//!     .get(Duration::from_secs(1))?
//!     .expect("an instance within a second")
//!     .call("count_vowels", "aei")?;
//! assert!(output.contains(r#""count":3"#));
//! assert_eq!(pool.count(), 1);
//! # Ok::<(), interplug::Error>(())
//! ```

use crate::{
    host::convert::{FromBytesOwned, ToBytes},
    host::timer::Alarm,
    Error, Plugin,
};
use std::{
    collections::{BTreeMap, VecDeque},
    future::Future,
    ops::{Deref, DerefMut},
    pin::Pin,
    string::ToString,
    sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, Weak},
    task::{Context, Poll, Waker},
    time::{Duration, Instant},
};

/// Settings of a [`Pool`].
#[derive(Debug, Clone)]
pub struct PoolBuilder {
    /// Most instances in existence at once (idle or lent). Default: the number of
    /// CPUs.
    pub max_instances: usize,
}

impl PoolBuilder {
    /// The default settings.
    pub fn new() -> Self {
        PoolBuilder::default()
    }

    /// Sets the most instances in existence at once (a pool of 0 never lends one).
    pub fn with_max_instances(mut self, n: usize) -> Self {
        self.max_instances = n;
        self
    }

    /// A pool whose instances `source` makes.
    pub fn build<F: 'static + Fn() -> Result<Plugin, Error> + Send + Sync>(
        self,
        source: F,
    ) -> Pool {
        Pool::new_from_builder(source, self)
    }
}

impl Default for PoolBuilder {
    fn default() -> Self {
        PoolBuilder {
            max_instances: std::thread::available_parallelism().map_or(1, usize::from),
        }
    }
}

/// The function that makes an instance.
type PluginSource = dyn Fn() -> Result<Plugin, Error> + Send + Sync;

/// What the pool's lock guards.
struct PoolState {
    idle: VecDeque<Plugin>,
    /// Instances in existence or being made.
    live: usize,
    /// Tasks waiting in [`Pool::get_async`], first come first woken, by id.
    waiting_tasks: VecDeque<(u64, Waker)>,
    /// The id of the next waiting task.
    next_task: u64,
}

impl PoolState {
    /// Wakes the task that has waited longest (an instance came back or a slot freed).
    fn wake_a_task(&mut self) {
        if let Some((_, waker)) = self.waiting_tasks.pop_front() {
            waker.wake();
        }
    }
}

struct Shared {
    source: Box<PluginSource>,
    max_instances: usize,
    state: Mutex<PoolState>,
    returned: Condvar,
    /// `function_exists` answers, by name (they do not change between instances).
    known_functions: RwLock<BTreeMap<String, bool>>,
}

impl Shared {
    fn lock(&self) -> Result<MutexGuard<'_, PoolState>, Error> {
        self.state
            .lock()
            .map_err(|_| crate::error::fail!(Host, "the plug-in pool's lock is poisoned: a thread panicked while holding it; make a new pool"))
    }
}

/// Instances of one plug-in lent to many threads; cloning shares the pool.
#[derive(Clone)]
pub struct Pool {
    shared: Arc<Shared>,
}

impl Pool {
    /// A pool with the default settings ([`PoolBuilder::default`]).
    pub fn new<F: 'static + Fn() -> Result<Plugin, Error> + Send + Sync>(source: F) -> Self {
        Pool::new_from_builder(source, PoolBuilder::default())
    }

    /// A pool with `builder`'s settings.
    pub fn new_from_builder<F: 'static + Fn() -> Result<Plugin, Error> + Send + Sync>(
        source: F,
        builder: PoolBuilder,
    ) -> Self {
        Pool {
            shared: Arc::new(Shared {
                source: Box::new(source),
                max_instances: builder.max_instances,
                state: Mutex::new(PoolState {
                    idle: VecDeque::new(),
                    live: 0,
                    waiting_tasks: VecDeque::new(),
                    next_task: 0,
                }),
                returned: Condvar::new(),
                known_functions: RwLock::new(BTreeMap::new()),
            }),
        }
    }

    /// Instances in existence (idle or lent).
    pub fn count(&self) -> usize {
        self.shared.lock().map_or(0, |state| state.live)
    }

    /// An instance: an idle one, a new one, or the first one returned within
    /// `timeout`; `Ok(None)` when none came back in time.
    ///
    /// # Errors
    ///
    /// The source's error when making a new instance failed;
    /// [`ErrorKind::Host`](crate::ErrorKind::Host) when the pool's lock is poisoned
    /// (host code panicked while holding it).
    pub fn get(&self, timeout: Duration) -> Result<Option<PoolPlugin>, Error> {
        let shared = &self.shared;
        let deadline = Instant::now().checked_add(timeout);
        let mut state = shared.lock()?;
        loop {
            if let Some(plugin) = state.idle.pop_front() {
                return Ok(Some(self.lend(plugin)));
            }
            if state.live < shared.max_instances {
                state.live += 1;
                drop(state);
                return match (shared.source)() {
                    Ok(plugin) => Ok(Some(self.lend(plugin))),
                    Err(error) => {
                        self.forget_one();
                        Err(error)
                    }
                };
            }
            let left = match deadline {
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left,
                    _ => return Ok(None),
                },
                None => Duration::from_secs(3600),
            };
            state = shared
                .returned
                .wait_timeout(state, left)
                .map_err(|_| crate::error::fail!(Host, "the plug-in pool's lock is poisoned: a thread panicked while holding it; make a new pool"))?
                .0;
        }
    }

    /// An instance, as [`Pool::get`] gives one, as a future that waits without
    /// blocking the thread: an idle instance, a new one, or the first one returned
    /// within `timeout` (`Ok(None)` after that). Tasks waiting are served in the order
    /// they started to wait. A new instance is made on the polling thread.
    ///
    /// # Errors
    ///
    /// As [`Pool::get`].
    ///
    /// # Examples
    ///
    /// ```
    /// use interplug::{Manifest, Plugin, PoolBuilder, Wasm};
    /// use std::{future::Future, time::Duration};
    /// let manifest = Manifest::new([Wasm::file("spec-tests/fixtures/count_vowels.wasm")]);
    /// let pool = PoolBuilder::new().with_max_instances(1).build(move || Plugin::new(&manifest, [], false));
    /// let lent = pool.get(Duration::from_secs(1))?;
    /// // The only instance is lent: a short wait ends without one.
    /// let mut waiting = std::pin::pin!(pool.get_async(Duration::from_millis(10)));
    /// let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// let none = loop {
    ///     if let std::task::Poll::Ready(got) = waiting.as_mut().poll(&mut cx) { break got?; }
    /// };
    /// assert!(none.is_none());
    /// # drop(lent);
    /// # Ok::<(), interplug::Error>(())
    /// ```
    pub fn get_async(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<Option<PoolPlugin>, Error>> + Send + 'static {
        GetAsync {
            pool: self.clone(),
            deadline: Instant::now().checked_add(timeout),
            task: None,
            alarm: None,
            done: false,
        }
    }

    /// An instance being made failed: its slot is free again.
    fn forget_one(&self) {
        if let Ok(mut state) = self.shared.lock() {
            state.live -= 1;
            state.wake_a_task();
        }
        self.shared.returned.notify_one();
    }

    /// Runs `f` on an instance; `Ok(None)` when none was free within `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Pool::get`], or `f`'s error.
    pub fn with_plugin<T>(
        &self,
        timeout: Duration,
        f: impl FnOnce(&mut Plugin) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        match self.get(timeout)? {
            Some(mut plugin) => f(&mut plugin).map(Some),
            None => Ok(None),
        }
    }

    /// True when the plug-in has the function `name`; answers are remembered.
    /// `Ok(false)` when no instance was free within `timeout` to ask.
    ///
    /// # Errors
    ///
    /// As [`Pool::get`].
    pub fn function_exists(&self, name: &str, timeout: Duration) -> Result<bool, Error> {
        if let Some(known) = self
            .shared
            .known_functions
            .read()
            .ok()
            .and_then(|known| known.get(name).copied())
        {
            return Ok(known);
        }
        let Some(plugin) = self.get(timeout)? else {
            return Ok(false);
        };
        let exists = plugin.function_exists(name);
        if let Ok(mut known) = self.shared.known_functions.write() {
            known.insert(name.to_string(), exists);
        }
        Ok(exists)
    }

    fn lend(&self, plugin: Plugin) -> PoolPlugin {
        PoolPlugin {
            plugin: Some(plugin),
            pool: Arc::downgrade(&self.shared),
        }
    }
}

/// An instance lent by a [`Pool`]; use it as a [`Plugin`]. Dropping it returns it.
pub struct PoolPlugin {
    /// `Some` until dropped.
    plugin: Option<Plugin>,
    pool: Weak<Shared>,
}

impl core::fmt::Debug for PoolPlugin {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PoolPlugin")
            .field("plugin", &self.plugin.as_ref().map(|p| p.id))
            .finish()
    }
}

impl PoolPlugin {
    /// Calls `name` with `input` (as [`Plugin::call`], with an owned result).
    ///
    /// # Errors
    ///
    /// As [`Plugin::call`].
    pub fn call<'a, Input: ToBytes<'a>, Output: FromBytesOwned>(
        &mut self,
        name: impl AsRef<str>,
        input: Input,
    ) -> Result<Output, Error> {
        self.deref_mut().call(name.as_ref(), input)
    }

    /// Calls `name` with `input` as a future (as [`Plugin::call_async`], with an
    /// owned result).
    ///
    /// # Errors
    ///
    /// As [`Plugin::call_async`].
    pub fn call_async<'a, Input: ToBytes<'a>, Output: FromBytesOwned>(
        &mut self,
        name: impl AsRef<str>,
        input: Input,
    ) -> impl Future<Output = Result<Output, Error>> + Send + '_ {
        self.deref_mut().call_async(name, input)
    }

    /// The instance's id.
    pub fn id(&self) -> uuid::Uuid {
        self.deref().id
    }
}

impl Deref for PoolPlugin {
    type Target = Plugin;
    fn deref(&self) -> &Plugin {
        match &self.plugin {
            Some(plugin) => plugin,
            None => unreachable!("a PoolPlugin holds its plug-in until it is dropped"),
        }
    }
}

impl DerefMut for PoolPlugin {
    fn deref_mut(&mut self) -> &mut Plugin {
        match &mut self.plugin {
            Some(plugin) => plugin,
            None => unreachable!("a PoolPlugin holds its plug-in until it is dropped"),
        }
    }
}

impl Drop for PoolPlugin {
    fn drop(&mut self) {
        let (Some(plugin), Some(shared)) = (self.plugin.take(), self.pool.upgrade()) else {
            return;
        };
        if let Ok(mut state) = shared.state.lock() {
            state.idle.push_back(plugin);
            state.wake_a_task();
        }
        shared.returned.notify_one();
    }
}

/// The future of [`Pool::get_async`].
struct GetAsync {
    pool: Pool,
    /// `None`: waits as long as it takes.
    deadline: Option<Instant>,
    /// Its id among the waiting tasks, once it waited.
    task: Option<u64>,
    alarm: Option<Alarm>,
    done: bool,
}

impl GetAsync {
    /// Takes this task off the waiting list.
    fn stop_waiting(&mut self, state: &mut PoolState) {
        if let Some(id) = self.task.take() {
            state.waiting_tasks.retain(|(task, _)| *task != id);
        }
        self.alarm = None;
    }
}

impl Future for GetAsync {
    type Output = Result<Option<PoolPlugin>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let pool = this.pool.clone();
        let shared = &pool.shared;
        let mut state = match shared.lock() {
            Ok(state) => state,
            Err(error) => {
                this.done = true;
                return Poll::Ready(Err(error));
            }
        };
        if let Some(plugin) = state.idle.pop_front() {
            this.stop_waiting(&mut state);
            this.done = true;
            return Poll::Ready(Ok(Some(pool.lend(plugin))));
        }
        if state.live < shared.max_instances {
            state.live += 1;
            this.stop_waiting(&mut state);
            this.done = true;
            drop(state);
            return Poll::Ready(match (shared.source)() {
                Ok(plugin) => Ok(Some(pool.lend(plugin))),
                Err(error) => {
                    pool.forget_one();
                    Err(error)
                }
            });
        }
        if this
            .deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
        {
            this.stop_waiting(&mut state);
            this.done = true;
            return Poll::Ready(Ok(None));
        }
        let waker = cx.waker();
        let listed = this
            .task
            .and_then(|id| state.waiting_tasks.iter_mut().find(|(task, _)| *task == id));
        match listed {
            Some((_, old)) if old.will_wake(waker) => {}
            Some((_, old)) => *old = waker.clone(),
            None => {
                let id = state.next_task;
                state.next_task = id.wrapping_add(1);
                state.waiting_tasks.push_back((id, waker.clone()));
                this.task = Some(id);
            }
        }
        drop(state);
        match (&mut this.alarm, this.deadline) {
            (Some(alarm), _) => alarm.update(waker),
            (None, Some(deadline)) => this.alarm = Alarm::set(deadline, waker),
            (None, None) => {}
        }
        Poll::Pending
    }
}

impl Drop for GetAsync {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let pool = self.pool.clone();
        let Ok(mut state) = pool.shared.lock() else {
            return;
        };
        let listed = self
            .task
            .is_some_and(|id| state.waiting_tasks.iter().any(|(task, _)| *task == id));
        if listed {
            self.stop_waiting(&mut state);
        } else if self.task.is_some() {
            // Woken for an instance it will never take: the next task gets the wake.
            state.wake_a_task();
        }
    }
}
